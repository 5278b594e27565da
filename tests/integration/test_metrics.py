"""A real worker's /metrics, scraped by a real Prometheus server and queried with PromQL."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from models.records import dumps
from models.scenario import build_demo
from streams.kafka_admin import ensure_topics
from streams.kafka_io import replay
from streams.topics import RAW, topic_specs
from streams.workers import free_port
from tests.support import serving

pytestmark = pytest.mark.integration


def _samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _query(port: int, promql: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    result: list[dict] = body["data"]["result"]
    return result


def test_prometheus_scrapes_a_worker_and_promql_returns_the_pipeline_series(
    settings_factory, start_worker, wait_for, require_tool: Callable[[str], str], tmp_path: Path
) -> None:
    binary = require_tool("prometheus")
    settings = settings_factory(partitions=2, metrics_interval_s=1)
    scenario = build_demo(seed=3)
    regions_file = tmp_path / "regions.geojson"
    regions_file.write_bytes(dumps(scenario.regions))
    lines = [dumps(p.to_wire()) for p in scenario.posts]
    lines[10:10] = [b"{not json", b'{"id": "x1", "created_at": "2024-03-04T05:00:00Z"}']

    worker = start_worker(settings, regions_file)
    asyncio.run(ensure_topics(settings.bootstrap, topic_specs(settings)))
    asyncio.run(replay(settings.bootstrap, settings.topic(RAW), lines, flush=True))

    samples: dict = {}

    def opened() -> bool:
        try:
            samples.update(_samples(worker.metrics_url))
        except OSError:
            return False
        return any(
            name == "groundswell_alerts_events_total" and ("status", "opened") in labels
            for (name, labels), value in samples.items()
            if value > 0
        )

    wait_for(opened, 150, "an opened alert in the worker's metrics", worker)
    consumed = "groundswell_stage_messages_consumed_total"
    assert _value(samples, consumed, stage="normalize") >= len(lines)
    dead = "groundswell_stage_dead_letters_total"
    assert _value(samples, dead, stage="normalize", reason="invalid json") == 1
    assert _value(samples, dead, stage="normalize", reason="missing text") == 1
    relevant = sum(v for (n, _), v in samples.items() if n == "groundswell_relevance_posts_total")
    located = sum(v for (n, _), v in samples.items() if n == "groundswell_geo_posts_total")
    assert relevant == located > 0
    assert _value(samples, "groundswell_stage_processing_seconds_count", stage="classify") > 0

    port = free_port()
    target = worker.metrics_url.split("/")[2]
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: groundswell\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with serving(command, f"http://127.0.0.1:{port}", tmp_path / "prometheus.log"):
        state: dict[str, list[dict]] = {}

        def scraped() -> bool:
            try:
                state["up"] = _query(port, 'up{job="groundswell"}')
                state["lag"] = _query(
                    port, "sum by (topic) (groundswell_kafka_consumer_lag_messages)"
                )
            except OSError:
                return False
            return bool(state["up"]) and state["up"][0]["value"][1] == "1" and bool(state["lag"])

        wait_for(scraped, 60, "Prometheus to scrape the worker")
        rows = _query(port, f"sum by (stage) ({consumed})")
        by_stage = {r["metric"]["stage"]: float(r["value"][1]) for r in rows}
        assert set(by_stage) == {"normalize", "classify", "detect", "global"}
        assert by_stage["normalize"] >= len(lines)
        opened_rows = _query(port, 'groundswell_alerts_events_total{status="opened"}')
        assert opened_rows and all(r["metric"]["zone"] for r in opened_rows)
        assert {r["metric"]["topic"] for r in state["lag"]} >= {"posts.raw", "posts.relevant"}
        p95 = _query(
            port,
            "histogram_quantile(0.95, sum by (le, stage) "
            "(groundswell_stage_processing_seconds_bucket))",
        )
        assert {r["metric"]["stage"] for r in p95} >= {"normalize", "classify"}
    assert worker.alive()
