"""The one Settings object, read from ``GROUNDSWELL_*`` variables and an optional TOML file.

Nothing else in the project reads the environment. Precedence: environment, then the file
named by ``GROUNDSWELL_CONFIG`` (keys are the lower-case names without the prefix, e.g.
``window_s = 300``), then defaults. A bad value stops the program at start with a
:class:`~models.errors.ConfigError` naming the variable.

>>> s = Settings.from_env({"GROUNDSWELL_WINDOW_S": "120"})
>>> s.window_s, s.bootstrap
(120, '127.0.0.1:19092')
>>> Settings.from_env({"GROUNDSWELL_ALPHA": "lots"})
Traceback (most recent call last):
...
models.errors.ConfigError: GROUNDSWELL_ALPHA='lots': must be a number
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from models.detect import DetectorConfig
from models.errors import ConfigError

PREFIX = "GROUNDSWELL_"


@dataclass(frozen=True)
class Settings:
    bootstrap: str = "127.0.0.1:19092"
    app_id: str = "groundswell"
    topic_prefix: str = ""
    partitions: int = 4
    replication: int = 1
    regions: str = ""
    region_id_property: str = ""
    region_name_property: str = ""
    zone_size: int = 32
    country_bias: str = ""
    langs: str = ""
    window_s: int = 300
    lateness_s: int = 60
    alpha: float = 0.01
    min_authors: int = 3
    warmup_windows: int = 12
    resolve_windows: int = 3
    author_key: str = "groundswell"
    log_level: str = "info"

    def __post_init__(self) -> None:
        positive = ("partitions", "replication", "zone_size", "window_s")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(env_name(name), getattr(self, name), "must be >= 1")
        if self.lateness_s < 0:
            raise ConfigError(env_name("lateness_s"), self.lateness_s, "must be >= 0")
        if ":" not in self.bootstrap:
            raise ConfigError(env_name("bootstrap"), self.bootstrap, "must be HOST:PORT[,...]")
        if self.regions and not Path(self.regions).is_file():
            raise ConfigError(env_name("regions"), self.regions, "no such file")
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ConfigError(env_name("log_level"), self.log_level, "debug|info|warning|error")
        try:
            self.detector_config(1)
        except ConfigError as exc:
            raise ConfigError(
                env_name(_DETECTOR_NAMES.get(exc.setting, exc.setting)), exc.value, exc.problem
            ) from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        config_file = env.get(PREFIX + "CONFIG")
        if config_file:
            values.update(_read_file(config_file))
        for f in fields(cls):
            raw = env.get(env_name(f.name))
            if raw is not None:
                values[f.name] = raw
        return cls(**{k: _convert(k, v) for k, v in values.items()})

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (command-line options win over the environment)."""
        return dataclasses.replace(
            self, **{k: _convert(k, v) for k, v in changes.items() if v is not None}
        )

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def detector_config(self, n_regions: int) -> DetectorConfig:
        return DetectorConfig(
            window_ms=self.window_s * 1000,
            alpha=self.alpha,
            min_authors=self.min_authors,
            warmup_windows=self.warmup_windows,
            resolve_windows=self.resolve_windows,
            n_regions_tested=max(1, n_regions),
        )


_DETECTOR_NAMES = {"window_ms": "window_s"}
_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def env_name(field_name: str) -> str:
    return PREFIX + field_name.upper()


def _convert(name: str, value: Any) -> Any:
    kind = _FIELD_TYPES.get(name)
    if kind is None:
        raise ConfigError(env_name(name), value, "unknown setting")
    try:
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind == "float":
            return float(value)
    except (TypeError, ValueError):
        what = "an integer" if kind == "int" else "a number"
        raise ConfigError(env_name(name), value, f"must be {what}") from None
    return str(value)


def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(PREFIX + "CONFIG", path, f"cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(PREFIX + "CONFIG", path, f"not valid TOML: {exc}") from None
    for key in data:
        if key not in _FIELD_TYPES:
            raise ConfigError(PREFIX + "CONFIG", path, f"unknown setting {key!r}")
    return data
