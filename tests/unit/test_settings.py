from __future__ import annotations

from pathlib import Path

import pytest

from models.errors import ConfigError
from streams.settings import Settings


def test_defaults_and_env() -> None:
    s = Settings.from_env({"GROUNDSWELL_PARTITIONS": "8", "GROUNDSWELL_TOPIC_PREFIX": "t."})
    assert s.partitions == 8
    assert s.topic("alerts") == "t.alerts"
    assert s.detector_config(300).n_regions_tested == 300


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"GROUNDSWELL_PARTITIONS": "0"}, "GROUNDSWELL_PARTITIONS"),
        ({"GROUNDSWELL_PARTITIONS": "four"}, "GROUNDSWELL_PARTITIONS"),
        ({"GROUNDSWELL_WINDOW_S": "0"}, "GROUNDSWELL_WINDOW_S"),
        ({"GROUNDSWELL_ALPHA": "1.5"}, "GROUNDSWELL_ALPHA"),
        ({"GROUNDSWELL_MIN_AUTHORS": "0"}, "GROUNDSWELL_MIN_AUTHORS"),
        ({"GROUNDSWELL_LATENESS_S": "-1"}, "GROUNDSWELL_LATENESS_S"),
        ({"GROUNDSWELL_BOOTSTRAP": "nohostport"}, "GROUNDSWELL_BOOTSTRAP"),
        ({"GROUNDSWELL_REGIONS": "/no/such/file.geojson"}, "GROUNDSWELL_REGIONS"),
        ({"GROUNDSWELL_LOG_LEVEL": "loud"}, "GROUNDSWELL_LOG_LEVEL"),
        ({"GROUNDSWELL_CONFIG": "/no/such.toml"}, "GROUNDSWELL_CONFIG"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert err.value.setting == name
    assert name in str(err.value)


def test_config_file_and_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "g.toml"
    cfg.write_text("window_s = 120\nalpha = 0.001\n")
    s = Settings.from_env({"GROUNDSWELL_CONFIG": str(cfg), "GROUNDSWELL_ALPHA": "0.02"})
    assert (s.window_s, s.alpha) == (120, 0.02)


def test_config_file_unknown_key(tmp_path: Path) -> None:
    cfg = tmp_path / "g.toml"
    cfg.write_text("windw_s = 120\n")
    with pytest.raises(ConfigError, match="unknown setting 'windw_s'"):
        Settings.from_env({"GROUNDSWELL_CONFIG": str(cfg)})
