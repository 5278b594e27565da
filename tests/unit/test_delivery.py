"""Alert delivery without a broker: filters and colours of ``alerts tail``, the webhook
sink against a real local HTTP server, and the Alertmanager sink against a real
Alertmanager (the Debian ``prometheus-alertmanager`` binary)."""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from aiohttp import ClientSession

import streams.kafka_io
from models.errors import ConfigError, GroundswellError
from models.records import Alert, dumps, loads
from streams.agents.publish import describe
from streams.cli import build_parser, main
from streams.delivery import (
    ALERTNAME,
    AlertFilter,
    AlertmanagerSink,
    WebhookSink,
    bridge,
    format_alert,
    idempotency_key,
    use_color,
)
from streams.files import DumpRecord
from streams.settings import Settings
from streams.workers import free_port
from tests.support import Receiver

T0 = 1_708_594_200_000  # 2024-02-22T09:30:00Z
WINDOW = 300_000


def make_alert(**changes: Any) -> Alert:
    alert = Alert(
        alert_id="a1",
        status="opened",
        severity="major",
        category="mobile_data",
        region_ids=("IT-MI", "IT-MB"),
        region_names=("Milano", "Monza e Brianza"),
        geometry=None,
        window_start_ms=T0,
        window_end_ms=T0 + WINDOW,
        first_post_at_ms=T0 + 1_000,
        detected_at_ms=T0 + WINDOW,
        observed=12,
        expected=1.5,
        score=9.0,
        p_value=1e-6,
        distinct_authors=12,
    )
    return replace(alert, **changes)


# --- filters and colours -------------------------------------------------------------------


def test_filter_criteria_combine_and_values_within_one_criterion_alternate() -> None:
    a = make_alert()
    assert AlertFilter().matches(a)
    assert AlertFilter(statuses=frozenset({"opened", "resolved"})).matches(a)
    assert not AlertFilter(statuses=frozenset({"resolved"})).matches(a)
    assert AlertFilter(categories=frozenset({"mobile_data", "fixed"})).matches(a)
    assert not AlertFilter(categories=frozenset({"fixed"})).matches(a)
    assert AlertFilter(severities=frozenset({"major"})).matches(a)
    assert not AlertFilter(severities=frozenset({"critical"})).matches(a)
    both = AlertFilter(statuses=frozenset({"opened"}), severities=frozenset({"critical"}))
    assert not both.matches(a)


@pytest.mark.parametrize(
    ("region", "hit"),
    [("IT-MB", True), ("it-mi", True), ("monza", True), ("brian", True), ("roma", False)],
)
def test_region_filter_matches_parts_of_ids_and_names(region: str, hit: bool) -> None:
    args = build_parser().parse_args(["alerts", "tail", "--region", "xx", "--region", region])
    assert AlertFilter.from_args(args).matches(make_alert()) is hit


def test_since_compares_with_detection_time_and_bad_times_name_the_option() -> None:
    detected = "2024-02-22T09:35:00Z"
    parser = build_parser()
    at = AlertFilter.from_args(parser.parse_args(["alerts", "tail", "--since", detected]))
    later = AlertFilter.from_args(
        parser.parse_args(["alerts", "tail", "--since", "2024-02-22T10:35:00.001+01:00"])
    )
    assert at.matches(make_alert()) and not later.matches(make_alert())
    with pytest.raises(ConfigError) as err:
        AlertFilter.from_args(parser.parse_args(["alerts", "tail", "--since", "yesterday"]))
    assert err.value.setting == "--since"


def test_tail_options_parse_into_one_filter() -> None:
    argv = "alerts tail --status opened --category fixed --category voice --severity critical"
    args = build_parser().parse_args([*argv.split(), "--color", "never", "--json"])
    assert AlertFilter.from_args(args) == AlertFilter(
        statuses=frozenset({"opened"}),
        categories=frozenset({"fixed", "voice"}),
        severities=frozenset({"critical"}),
    )
    assert args.color == "never" and args.json


@pytest.mark.parametrize(
    ("status", "severity", "code"),
    [
        ("opened", "major", "31"),
        ("opened", "critical", "1;31"),
        ("updated", "minor", "33"),
        ("resolved", "critical", "1;32"),
    ],
)
def test_colour_follows_status_and_critical_is_bold(status: str, severity: str, code: str) -> None:
    a = make_alert(status=status, severity=severity)
    assert format_alert(a, color=False) == describe(a)
    assert "\x1b" not in format_alert(a, color=False)
    assert format_alert(a, color=True) == f"\x1b[{code}m{describe(a)}\x1b[0m"


def test_auto_colour_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert use_color("auto", Tty()) and not use_color("auto", io.StringIO())
    assert not use_color("never", Tty()) and use_color("always", io.StringIO())


# --- webhook -------------------------------------------------------------------------------


class Sleeps(list[float]):
    """An injected ``sleep`` that records the wait and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def webhook(url: str, sleeps: Sleeps, outcomes: list[str], **kw: Any) -> WebhookSink:
    kw = {"retries": 4, "backoff_s": 0.5, "max_backoff_s": 8.0, "timeout_s": 2.0} | kw
    return WebhookSink(
        url,
        rng=np.random.default_rng(7),
        sleep=sleeps,
        on_attempt=lambda sink, outcome, s: outcomes.append(f"{sink}:{outcome}"),
        **kw,
    )


async def test_webhook_retries_503_with_growing_jittered_waits_and_one_key(
    receiver: Receiver,
) -> None:
    receiver.plan = [(503, {}, 0.0)] * 3
    sleeps, outcomes = Sleeps(), list[str]()
    sink = webhook(receiver.url, sleeps, outcomes, headers={"Authorization": "Bearer t"})
    alert = make_alert()
    assert await sink.deliver(alert)
    await sink.close()
    assert outcomes == ["webhook:retry"] * 3 + ["webhook:ok"]
    assert len(receiver.seen) == 4
    for k, s in enumerate(sleeps):
        assert 0.5 * 2**k / 2 <= s <= 0.5 * 2**k
    assert any(s < 0.5 * 2**k for k, s in enumerate(sleeps))  # jitter
    keys = {h["Idempotency-Key"] for _, h, _ in receiver.seen}
    assert keys == {idempotency_key(alert)} and len(keys.pop()) == 64
    path, headers, body = receiver.seen[-1]
    assert path == "/hook" and headers["Authorization"] == "Bearer t"
    assert headers["Content-Type"] == "application/json"
    assert Alert.from_wire(loads(body)) == alert and body == dumps(alert.to_wire())


async def test_idempotency_key_differs_between_events_and_repeats_for_the_same(
    receiver: Receiver,
) -> None:
    sink = webhook(receiver.url, Sleeps(), [])
    later = T0 + 2 * WINDOW
    events = [make_alert(), make_alert(), make_alert(status="updated", observed=20)]
    events.append(make_alert(status="updated", observed=20, detected_at_ms=later))
    events.append(make_alert(status="updated", observed=25, detected_at_ms=later))
    events.append(make_alert(status="resolved", detected_at_ms=T0 + 4 * WINDOW))
    for a in events:
        assert await sink.deliver(a)
    await sink.close()
    keys = [h["Idempotency-Key"] for _, h, _ in receiver.seen]
    assert keys[0] == keys[1] and len(set(keys)) == 5


async def test_webhook_400_is_not_retried(receiver: Receiver) -> None:
    receiver.plan = [(400, {}, 0.0)]
    sleeps, outcomes = Sleeps(), list[str]()
    sink = webhook(receiver.url, sleeps, outcomes)
    assert not await sink.deliver(make_alert())
    await sink.close()
    assert (len(receiver.seen), sleeps, outcomes) == (1, [], ["webhook:failed"])


async def test_retry_after_is_honoured_up_to_the_longest_backoff(receiver: Receiver) -> None:
    receiver.plan = [(429, {"Retry-After": "3"}, 0.0), (503, {"Retry-After": "600"}, 0.0)]
    receiver.plan.append((408, {}, 0.0))
    sleeps, outcomes = Sleeps(), list[str]()
    sink = webhook(receiver.url, sleeps, outcomes)
    assert await sink.deliver(make_alert())
    await sink.close()
    assert sleeps[:2] == [3.0, 8.0] and 1.0 <= sleeps[2] <= 2.0
    assert outcomes == ["webhook:retry"] * 3 + ["webhook:ok"]


async def test_a_timeout_is_retried(receiver: Receiver) -> None:
    receiver.plan = [(200, {}, 0.6)]
    sleeps, outcomes = Sleeps(), list[str]()
    sink = webhook(receiver.url, sleeps, outcomes, timeout_s=0.15)
    assert await sink.deliver(make_alert())
    await sink.close()
    assert outcomes == ["webhook:retry", "webhook:ok"] and len(receiver.seen) == 2


async def test_gives_up_after_the_last_retry_and_on_refused_connections() -> None:
    sleeps, outcomes = Sleeps(), list[str]()
    sink = webhook(f"http://127.0.0.1:{free_port()}/", sleeps, outcomes, retries=2)
    assert not await sink.deliver(make_alert())
    await sink.close()
    assert outcomes == ["webhook:retry", "webhook:retry", "webhook:failed"]
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"url": "ftp://example.org/x"}, "--url"),
        ({"url": "127.0.0.1:9093"}, "--url"),
        ({"retries": -1}, "--retries"),
        ({"backoff_s": 0.0}, "--backoff"),
        ({"backoff_s": 5.0, "max_backoff_s": 1.0}, "--max-backoff"),
        ({"timeout_s": -1.0}, "--timeout"),
    ],
)
def test_bad_sink_settings_name_the_option(kwargs: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigError) as err:
        WebhookSink(**({"url": "http://127.0.0.1:1/"} | kwargs))
    assert err.value.setting == setting
    with pytest.raises(ConfigError) as err:
        AlertmanagerSink(**({"url": "http://127.0.0.1:1/"} | kwargs))
    assert err.value.setting == setting


@pytest.mark.parametrize(
    "argv",
    [
        ["alerts", "webhook", "--url", "localhost:8080/hook"],
        ["alerts", "alertmanager", "--url", "file:///tmp/x"],
        ["alerts", "webhook", "--url", "http://h/", "--header", "no colon"],
        ["alerts", "alertmanager", "--url", "http://h/", "--resend", "0"],
    ],
)
def test_bridge_commands_refuse_bad_options_before_connecting(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    assert main(["--bootstrap", f"127.0.0.1:{free_port()}", *argv]) == 2
    assert time.monotonic() - started < 2
    option = argv[-2]
    assert f"{option}=" in capsys.readouterr().err


# --- bridge (the two Kafka readers replaced by lists of messages) ---------------------------


def messages(*values: bytes) -> list[DumpRecord]:
    return [DumpRecord("t.alerts", 0, i, T0, b"k", v) for i, v in enumerate(values)]


async def test_bridge_commits_after_delivery_and_stops_at_the_first_undelivered_alert(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = make_alert(), make_alert(status="updated", observed=30)
    third = make_alert(status="resolved", detected_at_ms=T0 + 4 * WINDOW)
    stream = messages(
        dumps(first.to_wire()), b"not json", dumps(second.to_wire()), dumps(third.to_wire())
    )
    committed: list[int] = []

    async def consume_group(bootstrap: str, topic: str, group: str, handle: Any, **kw: Any) -> None:
        assert (topic, group) == ("t.alerts", "gs-webhook")
        for rec in stream:
            await handle(rec)
            committed.append(rec.offset)

    monkeypatch.setattr(streams.kafka_io, "consume_group", consume_group)
    receiver.plan = [(200, {}, 0.0), (200, {}, 0.0), (400, {}, 0.0)]
    sink = WebhookSink(receiver.url, sleep=Sleeps())
    with pytest.raises(GroundswellError, match=r"t.alerts\[0\]@3 not delivered"):
        await bridge(sink, Settings(topic_prefix="t."), "gs-webhook")
    assert committed == [0, 1, 2]  # the bad message is skipped, the refused one is not
    assert [loads(b)["observed"] for _, _, b in receiver.seen] == [12, 30, 12]


async def test_alertmanager_bridge_reposts_alerts_left_open_in_the_topic(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = messages(
        dumps(make_alert().to_wire()),
        dumps(make_alert(alert_id="a2").to_wire()),
        dumps(make_alert(alert_id="a2", status="resolved").to_wire()),
    )

    async def tail(bootstrap: str, topic: str, on_record: Any, **kw: Any) -> None:
        assert (kw["from_beginning"], kw["follow"]) == (True, False)
        for rec in history:
            on_record(rec)

    async def consume_group(*args: Any, **kw: Any) -> None:
        async with asyncio.timeout(5):
            while not receiver.seen:
                await asyncio.sleep(0.01)

    async def short_sleep(seconds: float) -> None:
        await asyncio.sleep(0.01)

    monkeypatch.setattr(streams.kafka_io, "tail", tail)
    monkeypatch.setattr(streams.kafka_io, "consume_group", consume_group)
    sink = AlertmanagerSink(receiver.url.removesuffix("/hook"), sleep=short_sleep)
    await bridge(sink, Settings(topic_prefix="t."), "gs-alertmanager")
    assert [i["labels"]["alert_id"] for i in loads(receiver.seen[0][2])] == ["a1"]


# --- Alertmanager --------------------------------------------------------------------------


async def test_alertmanager_posts_resolves_replaced_labels_and_resends_open_alerts(
    receiver: Receiver,
) -> None:
    base = receiver.url.removesuffix("/hook")
    now_s = (T0 + 10 * WINDOW) / 1000
    sleeps: Sleeps = Sleeps()
    sink = AlertmanagerSink(
        base + "/", sleep=sleeps, clock=lambda: now_s, generator_url="https://noc.example/gs"
    )
    opened = make_alert()
    assert await sink.deliver(opened)
    [(path, _, body)] = receiver.seen
    assert path == "/api/v2/alerts"
    [item] = loads(body)
    assert item["labels"] == {
        "alertname": ALERTNAME,
        "alert_id": "a1",
        "region": "IT-MI",
        "category": "mobile_data",
        "severity": "major",
    }
    assert item["startsAt"] == "2024-02-22T09:30:00.000Z" and "endsAt" not in item
    assert item["annotations"]["regions"] == "Milano, Monza e Brianza"
    assert item["annotations"]["description"] == describe(opened)
    assert item["generatorURL"] == "https://noc.example/gs"

    worse = make_alert(status="updated", severity="critical", window_start_ms=T0 + WINDOW)
    assert await sink.deliver(worse)
    old, new = loads(receiver.seen[-1][2])
    assert old["labels"]["severity"] == "major" and old["endsAt"] == "2024-02-22T10:20:00.000Z"
    assert new["labels"]["severity"] == "critical" and "endsAt" not in new
    assert new["startsAt"] == item["startsAt"]  # the first event's window start

    assert await sink.resend()
    assert loads(receiver.seen[-1][2]) == [new]
    resolved = make_alert(status="resolved", severity="critical", detected_at_ms=T0 + 5 * WINDOW)
    assert await sink.deliver(resolved)
    [end] = loads(receiver.seen[-1][2])
    assert end["labels"] == new["labels"] and end["endsAt"] == "2024-02-22T09:55:00.000Z"
    count = len(receiver.seen)
    assert await sink.resend() and sink.open_alerts == 0
    assert len(receiver.seen) == count  # nothing open: nothing posted

    sink.remember(make_alert(alert_id="a2"))
    keeper = asyncio.create_task(sink.keep_open())
    while len(receiver.seen) < count + 2:
        await asyncio.sleep(0.01)
    keeper.cancel()
    await sink.close()
    assert sleeps[:2] == [60.0, 60.0]
    assert [i["labels"]["alert_id"] for i in loads(receiver.seen[-1][2])] == ["a2"]


async def test_a_real_alertmanager_opens_escalates_and_resolves_the_alert(
    alertmanager: str,
) -> None:
    async def active() -> list[dict[str, Any]]:
        async with (
            ClientSession() as http,
            http.get(f"{alertmanager}/api/v2/alerts", params={"filter": 'alert_id="a1"'}) as r,
        ):
            assert r.status == 200
            alerts: list[dict[str, Any]] = await r.json()
        return [a for a in alerts if a["status"]["state"] == "active"]

    sink = AlertmanagerSink(alertmanager, retries=1, sleep=Sleeps())
    assert await sink.deliver(make_alert())
    [shown] = await active()
    assert shown["labels"] == {
        "alertname": ALERTNAME,
        "alert_id": "a1",
        "region": "IT-MI",
        "category": "mobile_data",
        "severity": "major",
    }
    assert shown["annotations"]["regions"] == "Milano, Monza e Brianza"
    assert shown["startsAt"].startswith("2024-02-22T09:30:00")

    assert await sink.deliver(make_alert(status="updated", severity="critical"))
    assert [a["labels"]["severity"] for a in await active()] == ["critical"]

    assert await sink.resend()
    assert len(await active()) == 1

    resolved = make_alert(status="resolved", severity="critical", detected_at_ms=T0 + 5 * WINDOW)
    assert await sink.deliver(resolved)
    assert await active() == []
    await sink.close()
