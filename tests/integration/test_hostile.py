"""Hostile records through a real worker: every one the chain refuses lands in the
dead-letter topic with its reason, and the worker's metrics count it."""

from __future__ import annotations

import asyncio
import io
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from models.records import dumps
from models.scenario import build_demo
from streams.chain import Stages, backtest, load_regions
from streams.files import DumpRecord
from streams.kafka_admin import ensure_topics
from streams.kafka_io import dump, replay
from streams.topics import DEADLETTER, RAW, topic_specs
from tests.unit.test_fuzz import Hostile

pytestmark = pytest.mark.integration

RECORDS = 5_000
MAX_BYTES = 900_000  # the broker's default message limit is 1 MiB


def _dead_letters(bootstrap: str, topic: str) -> list[DumpRecord]:
    buf = io.BytesIO()
    asyncio.run(dump(bootstrap, topic, buf))
    return [r for r in map(DumpRecord.from_line, buf.getvalue().splitlines()) if r is not None]


def _counted(url: str) -> Counter[str]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    return Counter(
        {
            s.labels["reason"]: int(s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "groundswell_stage_dead_letters_total"
        }
    )


def test_every_refused_hostile_record_is_dead_lettered_with_its_reason_and_counted(
    settings_factory, start_worker, wait_for, tmp_path: Path
) -> None:
    settings = settings_factory(partitions=1)  # one partition: the offline chain's order
    regions = tmp_path / "regions.geojson"
    regions.write_bytes(dumps(build_demo().regions))
    stages = Stages(settings, load_regions(settings.with_overrides(regions=str(regions))))
    lines = [d for _, d in Hostile(seed=11).records(RECORDS) if len(d) < MAX_BYTES]
    expected = Counter(backtest(stages, lines).rejected)
    assert sum(expected.values()) > RECORDS // 4

    worker = start_worker(settings, regions)
    asyncio.run(ensure_topics(settings.bootstrap, topic_specs(settings)))
    asyncio.run(replay(settings.bootstrap, settings.topic(RAW), lines, flush=True, batch=100))

    got: Counter[str] = Counter()

    def all_dead() -> bool:
        dead = _dead_letters(settings.bootstrap, settings.topic(DEADLETTER))
        got.clear()
        got.update(dict(r.headers)[b"reason"].decode() for r in dead)
        return sum(got.values()) >= sum(expected.values())

    wait_for(all_dead, 180, f"{sum(expected.values())} dead letters", worker)
    assert got == expected
    wait_for(lambda: _counted(worker.metrics_url) == expected, 30, "the counters", worker)
    assert worker.alive()
