"""The alert bridges on the real broker: the webhook bridge delivers each alert event once
and a restarted bridge resumes after its last commit; the Alertmanager bridge opens and
resolves the alert in a real Alertmanager."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from models.records import Alert, dumps, loads
from models.scenario import build_demo
from streams.chain import Stages, backtest, load_regions
from streams.delivery import AlertmanagerSink, WebhookSink, bridge
from streams.kafka_admin import ensure_topics
from streams.kafka_io import replay
from streams.topics import ALERTS, topic_specs
from tests.support import Receiver

pytestmark = pytest.mark.integration


def _demo_alerts(settings: Any, tmp_path: Path) -> list[Alert]:
    """The demo outage's alert events (opened, updates, resolved), from the backtest."""
    scenario = build_demo(seed=3)
    regions_file = tmp_path / "regions.geojson"
    regions_file.write_bytes(dumps(scenario.regions))
    stages = Stages(settings, load_regions(settings.with_overrides(regions=str(regions_file))))
    alerts = backtest(stages, [dumps(p.to_wire()) for p in scenario.posts]).alerts
    assert (alerts[0].status, alerts[-1].status) == ("opened", "resolved")
    return alerts


async def _until(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.2)
    assert await check(), what


async def _publish(settings: Any, alerts: list[Alert]) -> None:
    lines = [dumps(a.to_wire()) for a in alerts]
    await replay(settings.bootstrap, settings.topic(ALERTS), lines, flush=False)


async def test_webhook_bridge_delivers_once_and_resumes_after_its_commit(
    settings_factory, receiver: Receiver, tmp_path: Path
) -> None:
    settings = settings_factory()
    alerts = _demo_alerts(settings, tmp_path)
    await ensure_topics(settings.bootstrap, topic_specs(settings))
    await _publish(settings, alerts[:2])

    async def delivered(n: int) -> bool:
        return len(receiver.seen) >= n

    first = asyncio.create_task(
        bridge(WebhookSink(receiver.url), settings, "hooks", from_beginning=True)
    )
    await _until(lambda: delivered(2), 60, "the first two events")
    await asyncio.sleep(1.0)  # nothing more to come
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)

    await _publish(settings, alerts[2:])
    second = asyncio.create_task(
        bridge(WebhookSink(receiver.url), settings, "hooks", from_beginning=True)
    )
    await _until(lambda: delivered(len(alerts)), 60, "the rest after the restart")
    await asyncio.sleep(1.0)
    second.cancel()
    await asyncio.gather(second, return_exceptions=True)

    bodies = [Alert.from_wire(loads(body)) for _, _, body in receiver.seen]
    assert bodies == alerts  # each event once, in order, none re-sent by the restart
    keys = [headers["Idempotency-Key"] for _, headers, _ in receiver.seen]
    assert len(set(keys)) == len(alerts)


async def test_alertmanager_bridge_opens_then_resolves_the_outage(
    settings_factory, alertmanager: str, tmp_path: Path
) -> None:
    settings = settings_factory()
    alerts = _demo_alerts(settings, tmp_path)
    alert_id = alerts[0].alert_id
    await ensure_topics(settings.bootstrap, topic_specs(settings))

    async def states() -> list[str]:
        params = {"filter": f'alert_id="{alert_id}"'}
        async with (
            ClientSession() as http,
            http.get(f"{alertmanager}/api/v2/alerts", params=params) as resp,
        ):
            found: list[dict[str, Any]] = await resp.json()
        return [a["status"]["state"] for a in found]

    task = asyncio.create_task(
        bridge(AlertmanagerSink(alertmanager), settings, "am", from_beginning=True)
    )
    try:
        await _publish(settings, alerts[:-1])

        async def active() -> bool:
            return await states() == ["active"]

        await _until(active, 60, "the outage active in Alertmanager")

        await _publish(settings, alerts[-1:])

        async def resolved() -> bool:
            return "active" not in await states()

        await _until(resolved, 60, "the outage resolved in Alertmanager")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
