"""A small on-disk cache for derived geo data (gazetteer indexes, built region sets,
neighbours and zones), keyed by a hash of everything the data was derived from.

Entries are JSON files named ``<kind>-<key>.json``. A missing entry is computed and
written; an unreadable one (truncated, edited, from another version) is recomputed with a
:class:`GeoCacheWarning` and overwritten. Writes go to a temporary file renamed into
place, so concurrent processes never read half a file. ``GeoCache(None)`` caches nothing.

>>> import tempfile
>>> cache = GeoCache(tempfile.mkdtemp())
>>> cache.get_or_build("demo", cache.key("a", 1), lambda: {"x": [1, 2]})
{'x': [1, 2]}
>>> cache.get_or_build("demo", cache.key("a", 1), lambda: {"x": "not called"})
{'x': [1, 2]}
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson

__all__ = ["CACHE_FORMAT", "GeoCache", "GeoCacheWarning"]

CACHE_FORMAT = 1
"""Bumped whenever a cached structure changes shape; part of every key."""


T = TypeVar("T")


def _identity(value: Any) -> Any:
    return value


class GeoCacheWarning(UserWarning):
    """A cache entry could not be used or written; the data was computed instead."""


class GeoCache:
    """JSON entries under ``folder`` (created on first write); ``None`` disables caching."""

    def __init__(self, folder: str | os.PathLike[str] | None) -> None:
        self.folder = Path(folder) if folder else None

    @staticmethod
    def key(*parts: object) -> str:
        """Hex SHA-256 of the parts' JSON (with :data:`CACHE_FORMAT`), 32 characters.

        >>> GeoCache.key("hex", 5) == GeoCache.key("hex", 5) != GeoCache.key("hex", 6)
        True
        """
        data = orjson.dumps([CACHE_FORMAT, *parts], option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(data).hexdigest()[:32]

    def path(self, kind: str, key: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{kind}-{key}.json"

    def get_or_build(
        self,
        kind: str,
        key: str,
        build: Callable[[], Any],
        decode: Callable[[Any], T] = _identity,
    ) -> T:
        """``decode`` of the cached JSON value for ``(kind, key)``; when there is none, or
        it does not decode (``ValueError``, ``KeyError``, ``TypeError``, ``IndexError``),
        ``decode(build())``, and the built value is stored."""
        path = self.path(kind, key)
        if path is not None:
            try:
                return decode(orjson.loads(path.read_bytes()))
            except (FileNotFoundError, NotADirectoryError):
                pass
            except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
                warnings.warn(
                    f"geo cache entry {path} is unusable ({type(exc).__name__}: {exc}); "
                    "rebuilding it",
                    GeoCacheWarning,
                    stacklevel=2,
                )
        value = build()
        if path is not None:
            self._write(path, value)
        return decode(value)

    def _write(self, path: Path, value: Any) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(orjson.dumps(value))
            os.replace(tmp, path)
        except OSError as exc:
            warnings.warn(
                f"cannot write geo cache entry {path}: {exc}", GeoCacheWarning, stacklevel=3
            )
