"""The deployment files: Prometheus config and rules, Grafana dashboard, compose, Kubernetes.

External checkers (promtool, amtool, kubectl) run when installed; a missing one skips its
test, or fails it when ``GROUNDSWELL_REQUIRE_TOOLS=1``. ``docker compose config`` runs only
where the compose plugin exists.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from streams.metrics import Metrics
from streams.settings import Settings, env_name

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
COMPOSE = DEPLOY / "compose"
K8S = DEPLOY / "k8s"
DASHBOARD = GRAFANA / "dashboards" / "groundswell.json"


def _served() -> dict[str, str]:
    """Every metric family a worker or bridge serves, by exposed name, with its type."""
    registry = CollectorRegistry()
    Metrics(registry)
    served = {}
    for family in registry.collect():
        total = family.type == "counter" and not family.name.endswith("_total")
        served[family.name + "_total" if total else family.name] = family.type
    return served


SERVED = _served()
METRICS = {k: v for k, v in SERVED.items() if k.startswith("groundswell_")}
# The process and platform collectors' series, and Prometheus's own ``up``.
STANDARD = frozenset(
    {
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "python_info",
    }
)
SCRAPE = frozenset({"up"})
REQUIRED_ALERTS = (
    "GroundswellWorkerDown",
    "GroundswellConsumerLagGrowing",
    "GroundswellDeadLettersRising",
    "GroundswellNoPosts",
    "GroundswellAlertStorm",
    "GroundswellDetectionLagHigh",
)
# --- helpers ---------------------------------------------------------------------------


def run(*cmd: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def check_ok(*cmd: str | Path, cwd: Path = ROOT) -> str:
    proc = run(*cmd, cwd=cwd)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.])[A-Za-z_:][\w:]*")
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
    | {"bool", "offset", "inf", "nan"}
)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    names = set()
    for m in _IDENT.finditer(text):
        name = m.group()
        if name.lower() in _KEYWORDS or text[m.end() :].lstrip().startswith("("):
            continue
        names.add(name)
    return names


def series_names() -> set[str]:
    """Every series name a worker or Prometheus serves, histogram parts included."""
    names = set(STANDARD | SCRAPE)
    for name, kind in METRICS.items():
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        else:
            names.add(name)
    return names


def rules(path: Path) -> list[dict[str, Any]]:
    return [r for g in load_yaml(path)["groups"] for r in g["rules"]]


def recording_names() -> set[str]:
    return {r["record"] for r in rules(PROM / "rules" / "recording.yml")}


def check_promql(promtool: str, exprs: dict[str, str], tmp_path: Path) -> None:
    """Parse each expression with promtool (as a recording rule named by its key)."""
    group = {"name": "parse", "rules": [{"record": k, "expr": e} for k, e in exprs.items()]}
    path = tmp_path / "parse.yml"
    path.write_text(yaml.safe_dump({"groups": [group]}), encoding="utf-8")
    check_ok(promtool, "check", "rules", path)


# --- the helpers themselves ----------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (stage) (rate(foo_total{a="b(c)"}[5m])) / on () bar', {"foo_total", "bar"}),
        ("histogram_quantile(0.95, sum by (le) (rate(x_bucket[1m])))", {"x_bucket"}),
        ("time() - max(g offset 5m) > 1e3 and on() a:b:c", {"g", "a:b:c"}),
        ("up == bool 0", {"up"}),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_standard_collectors_are_served() -> None:
    assert {k for k in SERVED if not k.startswith("groundswell_")} == STANDARD


def test_promtool_rejects_bad_promql(tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    promtool = require_tool("promtool")
    path = tmp_path / "bad.yml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "r", "expr": "sum(x"}]}]})
    )
    assert run(promtool, "check", "rules", path).returncode != 0


# --- Prometheus ------------------------------------------------------------------------


def test_promtool_check_config(require_tool: Callable[[str], str]) -> None:
    promtool = require_tool("promtool")
    out = check_ok(promtool, "check", "config", PROM / "prometheus.yml")
    assert "2 rule files found" in out


def test_promtool_check_rules(require_tool: Callable[[str], str]) -> None:
    promtool = require_tool("promtool")
    check_ok(promtool, "check", "rules", *sorted((PROM / "rules").glob("*.yml")))


def test_promtool_rule_unit_tests(require_tool: Callable[[str], str]) -> None:
    promtool = require_tool("promtool")
    out = check_ok(promtool, "test", "rules", PROM / "tests" / "rules_test.yml")
    assert "SUCCESS" in out


def test_scrape_job_and_rule_files() -> None:
    config = load_yaml(PROM / "prometheus.yml")
    assert config["global"]["scrape_interval"] == "15s"
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["groundswell"]["scrape_interval"] == "15s"
    for pattern in config["rule_files"]:
        assert list(PROM.glob(pattern)), pattern
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]


def test_alerting_rules_are_complete() -> None:
    alerts = {r["alert"]: r for r in rules(PROM / "rules" / "alerts.yml")}
    assert set(REQUIRED_ALERTS) <= set(alerts)
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), name


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    alerts = {r["alert"] for r in rules(PROM / "rules" / "alerts.yml")}
    cases = [
        case
        for group in load_yaml(PROM / "tests" / "rules_test.yml")["tests"]
        for case in group.get("alert_rule_test", [])
    ]
    for name in alerts:
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c.get("exp_alerts") for c in mine), f"{name} never fires in the tests"
        assert any(not c.get("exp_alerts") for c in mine), f"{name} is never quiet in the tests"


@pytest.mark.parametrize("alert", [r["alert"] for r in rules(PROM / "rules" / "alerts.yml")])
def test_rule_tests_notice_a_silenced_alert(
    alert: str, tmp_path: Path, require_tool: Callable[[str], str]
) -> None:
    """With its expression replaced by one that never holds, the rule tests must fail."""
    promtool = require_tool("promtool")
    shutil.copytree(PROM / "rules", tmp_path / "rules")
    shutil.copytree(PROM / "tests", tmp_path / "tests")
    doc = load_yaml(PROM / "rules" / "alerts.yml")
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                rule["expr"] = "vector(0) > 1"
    (tmp_path / "rules" / "alerts.yml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    proc = run(promtool, "test", "rules", tmp_path / "tests" / "rules_test.yml")
    assert proc.returncode != 0
    assert alert in proc.stdout + proc.stderr


def test_rules_use_known_series() -> None:
    known = series_names() | recording_names()
    for path in sorted((PROM / "rules").glob("*.yml")):
        for rule in rules(path):
            unknown = metric_names(rule["expr"]) - known
            assert not unknown, f"{path.name}: {rule.get('record') or rule.get('alert')}"


# --- Grafana ---------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in panels:
        out.append(p)
        out.extend(all_panels(p.get("panels", [])))
    return out


def dashboard_exprs() -> dict[str, str]:
    """Every target expression, keyed by a recording-rule-safe name, with the Grafana
    variables replaced by values of the right kind."""
    dash = dashboard()
    values = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
    for var in dash["templating"]["list"]:
        if var["type"] != "datasource":
            values[var["name"]] = ".*"

    def value(m: re.Match[str]) -> str:
        return values[m.group(1)]

    exprs = {}
    for panel in all_panels(dash["panels"]):
        for target in panel.get("targets", []):
            expr = re.sub(r"\$\{?(\w+)\}?", value, target["expr"])
            exprs[f"panel_{panel['id']}_{target['refId']}"] = expr
    return exprs


def test_dashboard_header_and_variables() -> None:
    dash = dashboard()
    assert dash["schemaVersion"] >= 38
    assert dash["uid"] == "groundswell" and dash["title"]
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_dashboard_panel_ids_and_layout() -> None:
    panels = all_panels(dashboard()["panels"])
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    boxes = []
    for p in panels:
        gp = p["gridPos"]
        x, y, w, h = gp["x"], gp["y"], gp["w"], gp["h"]
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 24, p["title"]
        boxes.append((p["title"], x, y, w, h))
    for i, (ta, xa, ya, wa, ha) in enumerate(boxes):
        for tb, xb, yb, wb, hb in boxes[i + 1 :]:
            overlap = xa < xb + wb and xb < xa + wa and ya < yb + hb and yb < ya + ha
            assert not overlap, f"{ta!r} overlaps {tb!r}"


def test_dashboard_targets_use_the_datasource_variable() -> None:
    for panel in all_panels(dashboard()["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in [panel, *panel["targets"]]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_dashboard_promql_parses(tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    check_promql(require_tool("promtool"), dashboard_exprs(), tmp_path)


def test_dashboard_metric_names_exist() -> None:
    known = series_names() | recording_names()
    used = set()
    for key, expr in dashboard_exprs().items():
        names = metric_names(expr)
        assert names, f"{key} selects no series"
        assert not names - known, f"{key}: unknown {sorted(names - known)}"
        used |= names
    shown = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}
    assert not set(METRICS) - shown, f"not on the dashboard: {sorted(set(METRICS) - shown)}"


def test_grafana_provisioning() -> None:
    ds = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    assert [d["type"] for d in ds["datasources"]] == ["prometheus"]
    providers = load_yaml(GRAFANA / "provisioning" / "dashboards" / "groundswell.yml")
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    mounted = compose()["services"]["grafana"]["volumes"]
    assert f"../grafana/dashboards:{provider['options']['path']}:ro" in mounted


# --- compose ---------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE / "compose.yaml")
    return data


def known_settings() -> set[str]:
    return {env_name(f.name) for f in fields(Settings)}


def test_compose_services() -> None:
    services = compose()["services"]
    needed = {"kafka", "topics", "worker-1", "worker-2", "alert-bridge"}
    assert needed | {"prometheus", "alertmanager", "grafana"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:3.")
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert services["topics"]["command"] == ["topics"]
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
        deps = svc.get("depends_on", [])
        assert set(deps) <= set(services), name
        env = svc.get("environment", {})
        groundswell_vars = {k for k in env if k.startswith("GROUNDSWELL_")}
        assert groundswell_vars <= known_settings(), name
    for name in ("worker-1", "worker-2", "alert-bridge"):
        env = services[name]["environment"]
        assert env["GROUNDSWELL_BOOTSTRAP"] == "kafka:9092"
        assert env["GROUNDSWELL_METRICS_ADDR"] == "0.0.0.0"


def test_compose_paths_and_ports() -> None:
    doc = compose()
    named = set(doc.get("volumes") or {})
    host_ports = []
    for name, svc in doc["services"].items():
        build = svc.get("build")
        if build:
            context = (COMPOSE / build["context"]).resolve()
            assert (context / build["dockerfile"]).is_file(), name
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (COMPOSE / source).exists(), f"{name}: {source}"
            else:
                assert source in named, f"{name}: volume {source} not declared"
        host_ports += [p.rsplit(":", 2)[-2] for p in svc.get("ports", [])]
    assert len(host_ports) == len(set(host_ports)), host_ports


def test_prometheus_targets_match_compose() -> None:
    services = compose()["services"]
    config = load_yaml(PROM / "prometheus.yml")
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "groundswell"]
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    port = {s["environment"]["GROUNDSWELL_METRICS_PORT"] for s in services.values() if "build" in s}
    assert targets and port == {"9180"}
    for target in targets:
        host, target_port = target.split(":")
        assert host in services and target_port == "9180", target
    workers = {n for n, s in services.items() if s.get("command") == ["worker"]}
    assert workers <= {t.split(":")[0] for t in targets}
    am = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert {t.split(":")[0] for t in am} <= set(services)


def test_dockerfile_copies_what_the_package_needs() -> None:
    text = (COMPOSE / "Dockerfile").read_text(encoding="utf-8")
    allowed = (COMPOSE / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
                assert f"!{source.rstrip('/')}" in allowed.replace("/\n", "\n"), source
    assert re.search(r"^USER 10001", text, re.M)


def test_alertmanager_config(require_tool: Callable[[str], str]) -> None:
    amtool = require_tool("amtool")
    check_ok(amtool, "check-config", COMPOSE / "alertmanager" / "alertmanager.yml")


def test_docker_compose_config() -> None:
    docker = shutil.which("docker")
    if docker is None or run(docker, "compose", "version").returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    check_ok(docker, "compose", "-f", COMPOSE / "compose.yaml", "config", "--quiet")


# --- Kubernetes ------------------------------------------------------------------------


def k8s_objects() -> dict[str, dict[str, Any]]:
    objects = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_yaml_docs(path):
            assert doc.get("apiVersion") and doc.get("kind"), path.name
            assert doc.get("metadata", {}).get("name"), path.name
            objects[doc["kind"]] = doc
    return objects


def test_kustomization_lists_every_file() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert {"Namespace", "ConfigMap", "Deployment", "Service", "ServiceMonitor"} <= set(
        k8s_objects()
    )


def test_k8s_labels_ports_and_probes() -> None:
    objs = k8s_objects()
    deployment, service, monitor = objs["Deployment"], objs["Service"], objs["ServiceMonitor"]
    spec = deployment["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    assert spec["replicas"] == 2
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    service_labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels.items()
    assert monitor["metadata"]["labels"]["app.kubernetes.io/name"] == "groundswell"

    (container,) = spec["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (svc_port,) = service["spec"]["ports"]
    assert svc_port["targetPort"] in ports or svc_port["targetPort"] in ports.values()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [svc_port["name"]]
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == ports["metrics"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] in ("metrics", ports["metrics"]), probe

    config = objs["ConfigMap"]
    assert set(config["data"]) <= known_settings()
    assert int(config["data"]["GROUNDSWELL_METRICS_PORT"]) == ports["metrics"]
    assert config["data"]["GROUNDSWELL_METRICS_ADDR"] == "0.0.0.0"
    assert container["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
    secrets = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e]
    assert any(s["key"] == "sasl-password" for s in secrets)


def test_k8s_security_and_resources() -> None:
    pod = k8s_objects()["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    volumes = {v["name"] for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert set(mounts.values()) <= volumes
    # The writable places of deploy/compose/Dockerfile: working directory and geo cache.
    assert {"/var/lib/groundswell", "/var/cache/groundswell", "/tmp"} <= set(mounts)


def test_kubectl_kustomize_builds(require_tool: Callable[[str], str]) -> None:
    kubectl = require_tool("kubectl")
    out = check_ok(kubectl, "kustomize", K8S)
    kinds = {d["kind"] for d in yaml.safe_load_all(out) if d}
    assert kinds == {"Namespace", "ConfigMap", "Deployment", "Service", "ServiceMonitor"}
