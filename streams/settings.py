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
import difflib
import math
import os
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from models.detect import DetectorConfig
from models.errors import ConfigError

PREFIX = "GROUNDSWELL_"


def _user_cache() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("groundswell"))


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
    region_weight_property: str = ""
    region_encoding: str = "utf-8"
    neighbours: str = "touch"
    gazetteer_countries: str = "US"
    geo_cache_dir: str = ""
    data_dir: str = ""
    zone_size: int = 32
    country_bias: str = ""
    langs: str = ""
    brands: str = ""
    relevance_model: str = ""
    history: str = ""
    window_s: int = 300
    lateness_s: int = 60
    alpha: float = 0.001
    min_authors: int = 3
    warmup_windows: int = 12
    resolve_windows: int = 3
    lasting_change_s: int = 86_400
    author_key: str = field(default="groundswell", repr=False)
    log_level: str = "info"
    commit_interval_s: float = 2.8
    metrics_addr: str = "127.0.0.1"
    metrics_port: int = 9180
    metrics_interval_s: float = 10.0
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: str = field(default="", repr=False)
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""

    def __post_init__(self) -> None:
        for name, kind in _FIELD_TYPES.items():
            if kind == "float" and not math.isfinite(getattr(self, name)):
                raise ConfigError(env_name(name), getattr(self, name), "must be a finite number")
        positive = ("partitions", "replication", "zone_size", "window_s")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(env_name(name), getattr(self, name), "must be >= 1")
        if self.commit_interval_s <= 0:
            raise ConfigError(env_name("commit_interval_s"), self.commit_interval_s, "must be > 0")
        if not 0 <= self.metrics_port <= 65535:
            raise ConfigError(env_name("metrics_port"), self.metrics_port, "0 (off) to 65535")
        if self.metrics_interval_s <= 0:
            raise ConfigError(
                env_name("metrics_interval_s"), self.metrics_interval_s, "must be > 0"
            )
        if self.lateness_s < 0:
            raise ConfigError(env_name("lateness_s"), self.lateness_s, "must be >= 0")
        if self.lasting_change_s < max(3600, 12 * self.window_s):
            raise ConfigError(
                env_name("lasting_change_s"),
                self.lasting_change_s,
                f"must be >= 3600 and >= 12 x {env_name('window_s')} ({self.window_s})",
            )
        if ":" not in self.bootstrap:
            raise ConfigError(env_name("bootstrap"), self.bootstrap, "must be HOST:PORT[,...]")
        self._check_geo()
        self.lexicon_langs()
        self.kafka_auth().check()
        if self.brands:
            from models.relevance import Brands

            try:
                Brands.load(self.brands)
            except ConfigError as exc:
                raise ConfigError(env_name("brands"), self.brands, str(exc)) from None
        if self.relevance_model:
            from models.trained import RelevanceModel

            RelevanceModel.load(self.relevance_model, env_name("relevance_model"))
        if self.history and not Path(self.history).is_file():
            raise ConfigError(env_name("history"), self.history, "no such file")
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
        """The settings from ``env`` (default: the process environment); a secret may
        instead come from the file named by its variable plus ``_FILE``
        (``GROUNDSWELL_SASL_PASSWORD_FILE``). Any other ``GROUNDSWELL_`` variable, a
        misspelt setting most likely, is refused (its value not shown: it may be a
        secret), :data:`TOOL_VARIABLES` apart.

        >>> Settings.from_env({"GROUNDSWELL_WINDOWS_S": "60"})
        Traceback (most recent call last):
        ...
        models.errors.ConfigError: GROUNDSWELL_WINDOWS_S='(not shown)': not a setting; \
did you mean GROUNDSWELL_WINDOW_S?
        """
        env = os.environ if env is None else env
        for name in env:
            if name.startswith(PREFIX) and name not in _VARIABLES:
                guess = difflib.get_close_matches(name, _VARIABLES, n=1)
                hint = f"; did you mean {guess[0]}?" if guess else ""
                raise ConfigError(name, "(not shown)", f"not a setting{hint}")
        values: dict[str, Any] = {}
        config_file = env.get(PREFIX + "CONFIG")
        if config_file:
            values.update(_read_file(config_file))
        for f in fields(cls):
            raw = env.get(env_name(f.name))
            if raw is not None:
                values[f.name] = raw
        for name in SECRETS:
            path = env.get(env_name(name) + "_FILE")
            if path is not None:
                values[name] = _read_secret(env_name(name) + "_FILE", path)
        return cls(**{k: _convert(k, v) for k, v in values.items()})

    def kafka_auth(self) -> KafkaAuth:
        """How Kafka clients authenticate and encrypt, from the ``sasl_*``/``ssl_*``
        settings."""
        return KafkaAuth(
            self.security_protocol,
            self.sasl_mechanism,
            self.sasl_username,
            self.sasl_password,
            self.ssl_cafile,
            self.ssl_certfile,
            self.ssl_keyfile,
        )

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (command-line options win over the environment)."""
        return dataclasses.replace(
            self, **{k: _convert(k, v) for k, v in changes.items() if v is not None}
        )

    def _check_geo(self) -> None:
        from geo.adjacency import parse_neighbours
        from geo.spec import RegionSpec

        if self.regions:
            spec = RegionSpec.parse(self.regions, env_name("regions"))
            for path in spec.input_files():
                if not Path(path).is_file():
                    raise ConfigError(env_name("regions"), self.regions, f"no such file: {path}")
        parse_neighbours(self.neighbours, env_name("neighbours"))
        self.gazetteer_detail()
        if self.country_bias and not (
            len(self.country_bias) == 2
            and self.country_bias.isascii()
            and self.country_bias.isalpha()
        ):
            raise ConfigError(env_name("country_bias"), self.country_bias, "a 2-letter ISO code")

    def region_files(self) -> list[tuple[str, str]]:
        """(variable, path) of the files the regions are read from (none for a built set
        without inputs, or the demo grid)."""
        from geo.spec import RegionSpec

        spec = RegionSpec.parse(self.regions, env_name("regions")) if self.regions else None
        return [(env_name("regions"), p) for p in (spec.input_files() if spec else ())]

    def input_files(self) -> list[tuple[str, str]]:
        """(variable, path) of every file these settings name for reading: the regions'
        inputs, the history, the relevance model and the brand lexicon."""
        return self.region_files() + [
            (env_name(name), getattr(self, name))
            for name in ("history", "relevance_model", "brands")
            if getattr(self, name)
        ]

    def lexicon_langs(self) -> list[str] | None:
        """The bundled lexicons ``langs`` names, in order (None: every bundled one).

        >>> Settings(langs="en, it").lexicon_langs()
        ['en', 'it']
        """
        from models.relevance import Lexicon

        langs = [x.strip() for x in self.langs.split(",") if x.strip()]
        bundled = Lexicon.bundled()
        for lang in langs:
            if lang not in bundled:
                raise ConfigError(
                    env_name("langs"),
                    self.langs,
                    f"no bundled lexicon {lang!r} ({', '.join(bundled)})",
                )
        return langs or None

    def gazetteer_detail(self) -> tuple[str, ...]:
        """Countries whose small towns the gazetteer holds: ``gazetteer_countries`` and the
        ``country_bias``."""
        codes = [c.strip().upper() for c in self.gazetteer_countries.split(",") if c.strip()]
        if self.country_bias:
            codes.append(self.country_bias.upper())
        for code in codes:
            if not (len(code) == 2 and code.isascii() and code.isalpha()):
                raise ConfigError(
                    env_name("gazetteer_countries"), self.gazetteer_countries, "2-letter ISO codes"
                )
        return tuple(sorted(set(codes)))

    def geo_cache_path(self) -> str | None:
        """Folder of the geo cache: ``geo_cache_dir``, else the user's cache folder;
        ``None`` (no cache) when ``geo_cache_dir`` is ``off``."""
        if self.geo_cache_dir == "off":
            return None
        if self.geo_cache_dir:
            return self.geo_cache_dir
        return str(_user_cache() / "geo")

    def worker_data_path(self) -> Path:
        """Folder of the workers' local data (one sub-folder per app id): ``data_dir``,
        else the user's cache folder."""
        return Path(self.data_dir) if self.data_dir else _user_cache() / "worker"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def detector_config(self, n_regions: int) -> DetectorConfig:
        return DetectorConfig(
            window_ms=self.window_s * 1000,
            alpha=self.alpha,
            min_authors=self.min_authors,
            warmup_windows=self.warmup_windows,
            resolve_windows=self.resolve_windows,
            max_alert_windows=self.lasting_change_s // self.window_s,
            n_regions_tested=max(1, n_regions),
        )


SECRETS = ("sasl_password", "author_key")
"""Settings never logged nor shown, which may also be read from a file (``..._FILE``)."""
TOOL_VARIABLES = (
    "GROUNDSWELL_KAFKA_PORT",
    "GROUNDSWELL_KAFKA_CONTROLLER_PORT",
    "GROUNDSWELL_KAFKA_START_TIMEOUT",
    "GROUNDSWELL_KAFKA_STOP_TIMEOUT",
    "GROUNDSWELL_KAFKA_BOOTSTRAP",
    "GROUNDSWELL_REQUIRE_TOOLS",
)
"""Variables of the project's tools that are not settings and may share the environment:
the local broker's (``deploy/kafka/kafka.sh``) and the test suite's."""
PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN")


@dataclass(frozen=True)
class KafkaAuth:
    """Security of the Kafka clients: protocol, SASL user and mechanism, TLS files.

    >>> KafkaAuth().client_options()
    {'security_protocol': 'PLAINTEXT'}
    >>> KafkaAuth("SASL_PLAINTEXT", "SCRAM-SHA-256", "alice", "s3cret")
    KafkaAuth(protocol='SASL_PLAINTEXT', mechanism='SCRAM-SHA-256', username='alice', \
cafile='', certfile='', keyfile='')
    """

    protocol: str = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)
    cafile: str = ""
    certfile: str = ""
    keyfile: str = ""

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol.endswith("SSL")

    def check(self) -> None:
        """Refuse an unknown protocol or mechanism, SASL without a user or password, and
        TLS files that are missing or do not load (naming the setting, never a secret)."""
        if self.protocol not in PROTOCOLS:
            raise ConfigError(env_name("security_protocol"), self.protocol, "|".join(PROTOCOLS))
        if self.uses_sasl:
            if self.mechanism not in MECHANISMS:
                raise ConfigError(env_name("sasl_mechanism"), self.mechanism, "|".join(MECHANISMS))
            if not self.username:
                raise ConfigError(env_name("sasl_username"), "", f"needed for {self.protocol}")
            if not self.password:
                raise ConfigError(env_name("sasl_password"), "(empty)", "needed for SASL")
        if self.uses_tls:
            self.ssl_context()

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting ``cafile`` (else the system's CAs), with a client
        certificate when ``certfile`` is set."""
        for name, path in (
            ("ssl_cafile", self.cafile),
            ("ssl_certfile", self.certfile),
            ("ssl_keyfile", self.keyfile),
        ):
            if path and not Path(path).is_file():
                raise ConfigError(env_name(name), path, "no such file")
        try:
            context = ssl.create_default_context(cafile=self.cafile or None)
        except ssl.SSLError as exc:
            raise ConfigError(
                env_name("ssl_cafile"), self.cafile, f"not a CA file: {exc}"
            ) from None
        if self.certfile:
            try:
                context.load_cert_chain(self.certfile, self.keyfile or None)
            except ssl.SSLError as exc:
                raise ConfigError(
                    env_name("ssl_certfile"), self.certfile, f"certificate or key: {exc}"
                ) from None
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin clients."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_sasl:
            options |= {
                "sasl_mechanism": self.mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        return options


_DETECTOR_NAMES = {"window_ms": "window_s"}
_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def env_name(field_name: str) -> str:
    return PREFIX + field_name.upper()


_VARIABLES = (
    *(env_name(name) for name in _FIELD_TYPES),
    *(env_name(name) + "_FILE" for name in SECRETS),
    PREFIX + "CONFIG",
    *TOOL_VARIABLES,
)
"""Every ``GROUNDSWELL_`` variable the project reads."""


def _convert(name: str, value: Any) -> Any:
    """``value`` as the setting's type, by the same rules whether it is text (the
    environment, the command line) or a TOML value: an integer setting takes an integer
    or its text, not a float; a number setting a number or its text; a text setting
    only text.

    >>> _convert("window_s", "300"), _convert("alpha", 1), _convert("bootstrap", "a:1")
    (300, 1.0, 'a:1')
    >>> _convert("partitions", 4.7)
    Traceback (most recent call last):
    ...
    models.errors.ConfigError: GROUNDSWELL_PARTITIONS=4.7: must be an integer
    """
    kind = _FIELD_TYPES.get(name)
    if kind is None:
        raise ConfigError(env_name(name), value, "unknown setting")
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(env_name(name), value, "must be text")
        return value
    what = "an integer" if kind == "int" else "a number"
    allowed = (str, int) if kind == "int" else (str, int, float)
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise ConfigError(env_name(name), value, f"must be {what}")
    try:
        return int(value) if kind == "int" else float(value)
    except ValueError:
        raise ConfigError(env_name(name), value, f"must be {what}") from None


def _read_secret(variable: str, path: str) -> str:
    """A secret from a file (one trailing newline dropped); the error names the variable
    and the path, never the content."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().removesuffix("\n")
    except OSError as exc:
        raise ConfigError(variable, path, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(variable, path, "not UTF-8 text") from None


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
