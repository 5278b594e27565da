from __future__ import annotations

import re
from pathlib import Path

import pytest

from models.errors import ConfigError
from streams.settings import Settings


def test_defaults_and_env() -> None:
    s = Settings.from_env({"GROUNDSWELL_PARTITIONS": "8", "GROUNDSWELL_TOPIC_PREFIX": "t."})
    assert s.partitions == 8
    assert s.topic("alerts") == "t.alerts"
    assert s.detector_config(300).n_regions_tested == 300
    assert s.detector_config(1).max_alert_windows == 288  # a day of 5-minute windows
    hour = Settings.from_env({"GROUNDSWELL_LASTING_CHANGE_S": "3600", "GROUNDSWELL_WINDOW_S": "60"})
    assert hour.detector_config(1).max_alert_windows == 60


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"GROUNDSWELL_PARTITIONS": "0"}, "GROUNDSWELL_PARTITIONS"),
        ({"GROUNDSWELL_PARTITIONS": "four"}, "GROUNDSWELL_PARTITIONS"),
        ({"GROUNDSWELL_WINDOW_S": "0"}, "GROUNDSWELL_WINDOW_S"),
        ({"GROUNDSWELL_ALPHA": "1.5"}, "GROUNDSWELL_ALPHA"),
        ({"GROUNDSWELL_COMMIT_INTERVAL_S": "nan"}, "GROUNDSWELL_COMMIT_INTERVAL_S"),
        ({"GROUNDSWELL_COMMIT_INTERVAL_S": "inf"}, "GROUNDSWELL_COMMIT_INTERVAL_S"),
        ({"GROUNDSWELL_METRICS_INTERVAL_S": "nan"}, "GROUNDSWELL_METRICS_INTERVAL_S"),
        ({"GROUNDSWELL_MIN_AUTHORS": "0"}, "GROUNDSWELL_MIN_AUTHORS"),
        ({"GROUNDSWELL_LATENESS_S": "-1"}, "GROUNDSWELL_LATENESS_S"),
        ({"GROUNDSWELL_LASTING_CHANGE_S": "600"}, "GROUNDSWELL_LASTING_CHANGE_S"),
        (
            {"GROUNDSWELL_LASTING_CHANGE_S": "7200", "GROUNDSWELL_WINDOW_S": "900"},
            "GROUNDSWELL_LASTING_CHANGE_S",
        ),
        ({"GROUNDSWELL_BOOTSTRAP": "nohostport"}, "GROUNDSWELL_BOOTSTRAP"),
        ({"GROUNDSWELL_REGIONS": "/no/such/file.geojson"}, "GROUNDSWELL_REGIONS"),
        ({"GROUNDSWELL_LOG_LEVEL": "loud"}, "GROUNDSWELL_LOG_LEVEL"),
        ({"GROUNDSWELL_LANGS": "en,abc"}, "GROUNDSWELL_LANGS"),
        ({"GROUNDSWELL_CONFIG": "/no/such.toml"}, "GROUNDSWELL_CONFIG"),
        ({"GROUNDSWELL_METRICS_PORT": "70000"}, "GROUNDSWELL_METRICS_PORT"),
        ({"GROUNDSWELL_SECURITY_PROTOCOL": "TLS"}, "GROUNDSWELL_SECURITY_PROTOCOL"),
        ({"GROUNDSWELL_SECURITY_PROTOCOL": "SASL_SSL"}, "GROUNDSWELL_SASL_USERNAME"),
        (
            {"GROUNDSWELL_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "GROUNDSWELL_SASL_USERNAME": "a"},
            "GROUNDSWELL_SASL_PASSWORD",
        ),
        (
            {
                "GROUNDSWELL_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "GROUNDSWELL_SASL_USERNAME": "a",
                "GROUNDSWELL_SASL_PASSWORD": "b",
                "GROUNDSWELL_SASL_MECHANISM": "MD5",
            },
            "GROUNDSWELL_SASL_MECHANISM",
        ),
        (
            {"GROUNDSWELL_SECURITY_PROTOCOL": "SSL", "GROUNDSWELL_SSL_CAFILE": "/no/ca.pem"},
            "GROUNDSWELL_SSL_CAFILE",
        ),
        ({"GROUNDSWELL_SASL_PASSWORD_FILE": "/no/secret"}, "GROUNDSWELL_SASL_PASSWORD_FILE"),
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


@pytest.mark.parametrize(
    ("toml", "name", "problem"),
    [
        ("window_s = 300.9", "GROUNDSWELL_WINDOW_S", "must be an integer"),
        ("partitions = 4.7", "GROUNDSWELL_PARTITIONS", "must be an integer"),
        ("window_s = true", "GROUNDSWELL_WINDOW_S", "must be an integer"),
        ("alpha = false", "GROUNDSWELL_ALPHA", "must be a number"),
        ("alpha = [0.01]", "GROUNDSWELL_ALPHA", "must be a number"),
        ('bootstrap = ["a:1", "b:2"]', "GROUNDSWELL_BOOTSTRAP", "must be text"),
        ('langs = ["en", "it"]', "GROUNDSWELL_LANGS", "must be text"),
        ("history = 2024-01-01", "GROUNDSWELL_HISTORY", "must be text"),
        ("commit_interval_s = nan", "GROUNDSWELL_COMMIT_INTERVAL_S", "must be a finite number"),
    ],
)
def test_config_file_values_follow_the_environment_rules(
    tmp_path: Path, toml: str, name: str, problem: str
) -> None:
    cfg = tmp_path / "g.toml"
    cfg.write_text(toml + "\n")
    with pytest.raises(ConfigError, match=problem) as err:
        Settings.from_env({"GROUNDSWELL_CONFIG": str(cfg)})
    assert err.value.setting == name


def test_config_file_numbers_as_numbers_or_text(tmp_path: Path) -> None:
    cfg = tmp_path / "g.toml"
    cfg.write_text('window_s = "120"\nalpha = "0.01"\ncommit_interval_s = 3\n')
    s = Settings.from_env({"GROUNDSWELL_CONFIG": str(cfg)})
    assert (s.window_s, s.alpha, s.commit_interval_s) == (120, 0.01, 3.0)


def test_config_file_unknown_key(tmp_path: Path) -> None:
    cfg = tmp_path / "g.toml"
    cfg.write_text("windw_s = 120\n")
    with pytest.raises(ConfigError, match="unknown setting 'windw_s'"):
        Settings.from_env({"GROUNDSWELL_CONFIG": str(cfg)})


def test_secrets_come_from_files_and_never_show(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret-value\n")
    key = tmp_path / "key"
    key.write_text("author-key-value")
    env = {
        "GROUNDSWELL_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "GROUNDSWELL_SASL_USERNAME": "alice",
        "GROUNDSWELL_SASL_PASSWORD_FILE": str(secret),
        "GROUNDSWELL_AUTHOR_KEY_FILE": str(key),
    }
    s = Settings.from_env(env)
    assert (s.sasl_password, s.author_key) == ("s3cret-value", "author-key-value")
    shown = repr(s) + repr(s.kafka_auth())
    assert "s3cret" not in shown and "author-key-value" not in shown
    assert s.kafka_auth().client_options()["sasl_plain_password"] == "s3cret-value"


def test_a_bad_ca_file_is_refused_at_start(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    with pytest.raises(ConfigError, match="GROUNDSWELL_SSL_CAFILE"):
        Settings.from_env(
            {"GROUNDSWELL_SECURITY_PROTOCOL": "SSL", "GROUNDSWELL_SSL_CAFILE": str(ca)}
        )


def test_worker_data_folder_is_the_setting_or_the_user_cache(tmp_path: Path) -> None:
    assert Settings(data_dir=str(tmp_path)).worker_data_path() == tmp_path
    default = Settings().worker_data_path()
    assert default.name == "worker" and default.parent.name == "groundswell"


def test_an_unknown_groundswell_variable_is_refused_without_its_value() -> None:
    with pytest.raises(ConfigError, match="did you mean GROUNDSWELL_WINDOW_S") as err:
        Settings.from_env({"GROUNDSWELL_WINDOWS_S": "60"})
    assert err.value.setting == "GROUNDSWELL_WINDOWS_S"
    with pytest.raises(ConfigError, match="not a setting") as err:
        Settings.from_env({"GROUNDSWELL_SASL_PASWORD": "s3cret"})  # a misspelt secret
    assert "s3cret" not in str(err.value)
    with pytest.raises(ConfigError, match="GROUNDSWELL_WINDOW_S_FILE"):
        Settings.from_env({"GROUNDSWELL_WINDOW_S_FILE": "/tmp/w"})  # only secrets have _FILE
    assert Settings.from_env({"OTHER_WINDOWS_S": "60", "GROUNDSWELLWINDOW": "1"}).window_s == 300


def test_every_variable_the_project_sets_is_a_setting_or_a_tool_variable() -> None:
    """The Makefile, CI, deploy files and the tests' own environment readers use no
    variable that ``Settings.from_env`` would refuse as a misspelt setting."""
    root = Path(__file__).resolve().parents[2]
    texts = [(root / "Makefile").read_text()]
    texts += [
        p.read_text(errors="ignore")
        for folder in (".ci", "deploy")
        for p in (root / folder).rglob("*")
        if p.is_file()
    ]
    used = {m for text in texts for m in re.findall(r"GROUNDSWELL_[A-Z0-9_]*[A-Z0-9]", text)}
    used |= {
        m
        for p in (root / "tests").rglob("*.py")
        for m in re.findall(r"environ\.get\(\"(GROUNDSWELL_[A-Z0-9_]+)", p.read_text())
    }
    assert {"GROUNDSWELL_KAFKA_PORT", "GROUNDSWELL_REQUIRE_TOOLS"} <= used
    for name in sorted(used):
        try:
            Settings.from_env({name: "1"})
        except ConfigError as exc:
            assert "not a setting" not in exc.problem, name
