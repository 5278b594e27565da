"""GeoCache: entries by key, rebuilt with a warning when unusable, never fatal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from geo.cache import GeoCache, GeoCacheWarning


def counting_builder(value: Any) -> tuple[list[int], Any]:
    calls = [0]

    def build() -> Any:
        calls[0] += 1
        return value

    return calls, build


def test_built_once_then_read(tmp_path: Path) -> None:
    cache = GeoCache(tmp_path / "geo")
    calls, build = counting_builder({"a": [1, 2]})
    key = GeoCache.key("demo", 1)
    assert cache.get_or_build("demo", key, build) == {"a": [1, 2]}
    assert cache.get_or_build("demo", key, build) == {"a": [1, 2]}
    assert calls == [1]
    assert (tmp_path / "geo" / f"demo-{key}.json").is_file()
    other = GeoCache.key("demo", 2)
    assert other != key and cache.get_or_build("demo", other, build) == {"a": [1, 2]}
    assert calls == [2]


def test_corrupt_entry_is_rebuilt_with_a_warning(tmp_path: Path) -> None:
    cache = GeoCache(tmp_path)
    key = GeoCache.key("x")
    path = cache.path("demo", key)
    assert path is not None
    path.write_bytes(b'{"truncated": [1, 2')
    calls, build = counting_builder([7])
    with pytest.warns(GeoCacheWarning, match="unusable"):
        assert cache.get_or_build("demo", key, build) == [7]
    assert calls == [1] and path.read_bytes() == b"[7]"


def test_entry_that_does_not_decode_is_rebuilt(tmp_path: Path) -> None:
    cache = GeoCache(tmp_path)
    key = GeoCache.key("y")
    cache.get_or_build("demo", key, lambda: {"wrong": "shape"})

    def decode(value: Any) -> int:
        return int(value["n"])

    with pytest.warns(GeoCacheWarning, match="KeyError"):
        assert cache.get_or_build("demo", key, lambda: {"n": 3}, decode) == 3
    assert cache.get_or_build("demo", key, lambda: {"n": 4}, decode) == 3


def test_no_folder_means_no_cache() -> None:
    cache = GeoCache(None)
    calls, build = counting_builder(1)
    assert cache.get_or_build("demo", "k", build) == 1
    assert cache.get_or_build("demo", "k", build) == 1
    assert calls == [2] and cache.path("demo", "k") is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_folder_warns_and_still_returns(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.warns(GeoCacheWarning, match="cannot write"):
            assert GeoCache(tmp_path / "sub").get_or_build("demo", "k", lambda: 5) == 5
    finally:
        tmp_path.chmod(0o700)


def test_folder_that_is_a_file_warns_and_still_returns(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.warns(GeoCacheWarning, match="cannot write"):
        assert GeoCache(blocker).get_or_build("demo", "k", lambda: 5) == 5
