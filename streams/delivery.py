"""Alert delivery: filter and print alert events, and bridge the alerts topic to Alertmanager
or to any HTTP webhook.

The bridges read the alerts topic as a Kafka consumer group and commit an alert's offset
only after the receiver accepted it, so a restarted bridge goes on where it stopped and may
deliver the last alert again (at least once). A repeat is harmless: the webhook gets the
same ``Idempotency-Key`` header, and Alertmanager deduplicates alerts by their labels.
When the receiver refuses an alert (a 4xx) or stays unreachable after every retry, the
bridge stops without committing that alert, so nothing is lost while it is down.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import hashlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from functools import partial
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from models.errors import ConfigError, GroundswellError, InvalidRecord
from models.records import ALERT_STATUSES, SEVERITIES, Alert, dumps, loads
from models.timeutil import iso_from_ms, ms_from_iso, ms_from_option

if TYPE_CHECKING:
    import aiohttp

    from streams.files import DumpRecord
    from streams.settings import Settings

log = logging.getLogger("groundswell.delivery")

OnAttempt = Callable[[str, str, float], None]
"""``on_attempt(sink, outcome, seconds)``: called after each HTTP attempt; outcome is
``ok``, ``retry`` (another attempt follows) or ``failed`` (the sink gives up)."""
Sleep = Callable[[float], Awaitable[None]]
ALERTNAME = "GroundswellOutage"
DEFAULT_RESEND_S = 60.0
_ANSI = {"opened": "31", "updated": "33", "resolved": "32"}  # red, yellow, green


def _count_nothing(sink: str, outcome: str, seconds: float) -> None:
    """The default ``on_attempt``."""


# --- printing -----------------------------------------------------------------------------


def paint(text: str, status: str, severity: str) -> str:
    """``text`` in the ANSI colour of an alert status, bold when critical.

    >>> paint("x", "opened", "critical")
    '\\x1b[1;31mx\\x1b[0m'
    >>> paint("x", "resolved", "minor")
    '\\x1b[32mx\\x1b[0m'
    """
    code = ("1;" if severity == "critical" else "") + _ANSI[status]
    return f"\x1b[{code}m{text}\x1b[0m"


def format_alert(alert: Alert, color: bool) -> str:
    """One line for an alert event, coloured by :func:`paint` when ``color``."""
    from streams.agents.publish import describe

    line = describe(alert)
    return paint(line, alert.status, alert.severity) if color else line


def use_color(choice: str, stream: IO[str]) -> bool:
    """``--color``: ``always``, ``never``, or ``auto`` (when ``stream`` is a terminal).

    >>> import io
    >>> use_color("auto", io.StringIO()), use_color("always", io.StringIO())
    (False, True)
    """
    return choice == "always" or (choice == "auto" and stream.isatty())


@dataclass(frozen=True)
class AlertFilter:
    """Which alert events to show: every given criterion must hold, and within one
    criterion any value may match. ``regions`` are case-insensitive substrings of a region
    id or name; ``since_ms`` compares with the event time ``detected_at``.

    >>> AlertFilter.from_args(argparse.Namespace(region=["Milano"], since="2024-02-22T09:30Z"))
    AlertFilter(statuses=frozenset(), categories=frozenset(), severities=frozenset(), \
regions=('milano',), since_ms=1708594200000)
    """

    statuses: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    regions: tuple[str, ...] = ()
    since_ms: int | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> AlertFilter:
        """From ``--status``, ``--category``, ``--severity``, ``--region``, ``--since``."""
        since_ms = ms_from_option(getattr(args, "since", None), "--since")
        return cls(
            statuses=frozenset(getattr(args, "status", None) or ()),
            categories=frozenset(getattr(args, "category", None) or ()),
            severities=frozenset(getattr(args, "severity", None) or ()),
            regions=tuple(r.casefold() for r in getattr(args, "region", None) or ()),
            since_ms=since_ms,
        )

    def matches(self, alert: Alert) -> bool:
        places = [p.casefold() for p in (*alert.region_ids, *alert.region_names)]
        return (
            (not self.statuses or alert.status in self.statuses)
            and (not self.categories or alert.category in self.categories)
            and (not self.severities or alert.severity in self.severities)
            and (not self.regions or any(q in p for q in self.regions for p in places))
            and (self.since_ms is None or alert.detected_at_ms >= self.since_ms)
        )


# --- HTTP with retries --------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How a sink retries a POST: up to ``retries`` more attempts after the first, the
    wait growing from ``backoff_s`` by doubling up to ``max_backoff_s``, with jitter (a
    wait between half and all of that step); each attempt may take ``timeout_s``.

    >>> p = RetryPolicy(retries=3, backoff_s=1.0, max_backoff_s=3.0)
    >>> [p.delay_s(k, jitter=1.0) for k in range(4)], p.delay_s(1, jitter=0.0)
    ([1.0, 2.0, 3.0, 3.0], 1.0)
    """

    retries: int = 8
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ConfigError("--retries", self.retries, "must be 0 or more")
        if not self.backoff_s > 0:
            raise ConfigError("--backoff", self.backoff_s, "must be a positive number of seconds")
        if not self.max_backoff_s >= self.backoff_s:
            raise ConfigError("--max-backoff", self.max_backoff_s, "must be at least --backoff")
        if not self.timeout_s > 0:
            raise ConfigError("--timeout", self.timeout_s, "must be a positive number of seconds")

    def delay_s(self, retry: int, jitter: float) -> float:
        """Seconds before retry number ``retry`` (0 = the first); ``jitter`` in [0, 1]."""
        step = min(self.max_backoff_s, self.backoff_s * 2.0 ** min(retry, 64))
        return step * (0.5 + 0.5 * jitter)


DEFAULT_RETRY = RetryPolicy()


def retry_after_s(value: str | None, now_s: float) -> float | None:
    """Seconds to wait by a ``Retry-After`` header (seconds or an HTTP date); None when
    absent or unreadable.

    >>> retry_after_s("7", 0.0), retry_after_s("Thu, 01 Jan 1970 00:00:30 GMT", 10.0)
    (7.0, 20.0)
    >>> retry_after_s("soon", 0.0) is None
    True
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now_s)


def check_url(url: str, option: str = "--url") -> str:
    """``url`` when it is an absolute http(s) URL; else a ConfigError naming ``option``.

    >>> check_url("http://127.0.0.1:9093")
    'http://127.0.0.1:9093'
    >>> check_url("127.0.0.1:9093")
    Traceback (most recent call last):
    models.errors.ConfigError: --url='127.0.0.1:9093': must be an http:// or https:// URL
    """
    parts = urlsplit(url)
    try:
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number in 0..65535
        ok = False
    if not ok:
        raise ConfigError(option, url, "must be an http:// or https:// URL")
    return url


def _origin(url: str) -> str:
    """Scheme, host and port of a URL: what logs show of it, as its path, query or
    user part may hold a secret.

    >>> _origin("https://user:pw@hooks.example.org/T0/B1/secret?x=1")
    'https://hooks.example.org'
    """
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def parse_headers(items: Iterable[str], option: str = "--header") -> dict[str, str]:
    """Request headers from ``NAME:VALUE`` texts.

    >>> parse_headers(["Authorization: Bearer t0k", "X-Team:noc"])
    {'Authorization': 'Bearer t0k', 'X-Team': 'noc'}
    """
    headers = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
            raise ConfigError(option, item, "must be NAME:VALUE")
        headers[name.strip()] = value.strip()
    return headers


def idempotency_key(alert: Alert) -> str:
    """A stable key of one alert event (sha256 hex of id, status, detection time and
    count): the same event delivered twice carries the same key."""
    text = f"{alert.alert_id}|{alert.status}|{alert.detected_at_ms}|{alert.observed}"
    return hashlib.sha256(text.encode()).hexdigest()


class _HttpSink:
    """POSTs JSON with retries on connection errors, timeouts, 408, 429 and 5xx (waiting
    by :class:`RetryPolicy`, or by ``Retry-After`` up to ``max_backoff_s``); other statuses
    are final. One aiohttp session, opened on first use; ``sleep``, ``clock`` (wall time in
    seconds, for HTTP dates) and ``rng`` (jitter) can be replaced in tests."""

    name = "http"

    def __init__(
        self,
        url: str,
        retries: int = DEFAULT_RETRY.retries,
        backoff_s: float = DEFAULT_RETRY.backoff_s,
        max_backoff_s: float = DEFAULT_RETRY.max_backoff_s,
        timeout_s: float = DEFAULT_RETRY.timeout_s,
        headers: Mapping[str, str] | None = None,
        *,
        rng: np.random.Generator | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        on_attempt: OnAttempt = _count_nothing,
    ) -> None:
        self.url = check_url(url)
        self.origin = _origin(url)
        self.policy = RetryPolicy(retries, backoff_s, max_backoff_s, timeout_s)
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.rng = rng if rng is not None else np.random.default_rng()
        self.sleep = sleep
        self.clock = clock
        self.on_attempt = on_attempt
        self._session: aiohttp.ClientSession | None = None

    async def _attempt(
        self, url: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[str, float | None, str]:
        """One POST: (``ok`` | ``transient`` | ``final``, Retry-After seconds, problem)."""
        import aiohttp

        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.policy.timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout, headers=self.headers)
        try:
            async with self._session.post(
                url, data=body, headers=dict(headers), allow_redirects=False
            ) as resp:
                if 200 <= resp.status < 300:
                    return "ok", None, ""
                text = (await resp.read())[:200].decode("utf-8", "replace")
                after = retry_after_s(resp.headers.get("Retry-After"), self.clock())
                transient = resp.status in (408, 429) or resp.status >= 500
                return "transient" if transient else "final", after, f"HTTP {resp.status} {text}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return "transient", None, f"{type(exc).__name__} {exc}".strip()

    async def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> bool:
        """POST until accepted (True) or given up (False, logged)."""
        retry = 0
        while True:
            started = time.monotonic()
            kind, after_s, problem = await self._attempt(url, body, headers)
            seconds = time.monotonic() - started
            if kind == "ok":
                self.on_attempt(self.name, "ok", seconds)
                return True
            if kind == "final" or retry >= self.policy.retries:
                self.on_attempt(self.name, "failed", seconds)
                log.warning(
                    "%s %s: %s; gave up after %d attempts",
                    self.name,
                    self.origin,
                    problem,
                    retry + 1,
                )
                return False
            self.on_attempt(self.name, "retry", seconds)
            if after_s is not None:
                delay = min(after_s, self.policy.max_backoff_s)
            else:
                delay = self.policy.delay_s(retry, float(self.rng.random()))
            log.info(
                "%s %s: %s; retry %d in %.1fs", self.name, self.origin, problem, retry + 1, delay
            )
            await self.sleep(delay)
            retry += 1

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class WebhookSink(_HttpSink):
    """POSTs each alert event's JSON (``Alert.to_wire()``) to ``url`` with an
    ``Idempotency-Key`` header (:func:`idempotency_key`) so a receiver can drop repeats."""

    name = "webhook"

    async def deliver(self, alert: Alert) -> bool:
        """True once the receiver accepted the event; False when it refused it or stayed
        unreachable after every retry."""
        headers = {"Idempotency-Key": idempotency_key(alert)}
        return await self._post(self.url, dumps(alert.to_wire()), headers)


# --- Alertmanager -------------------------------------------------------------------------


def alertmanager_alert(
    alert: Alert, starts_ms: int, ends_ms: int | None, generator_url: str | None = None
) -> dict[str, Any]:
    """The Alertmanager API v2 ``postableAlert`` of an alert event. Labels identify the
    alert (Alertmanager deduplicates by them): alertname, alert_id, first region, category,
    severity. ``ends_ms`` None leaves ``endsAt`` out: the alert then stays active for
    Alertmanager's ``resolve_timeout`` after each post."""
    from streams.agents.publish import describe

    where = ", ".join(alert.region_names) or ", ".join(alert.region_ids)
    out: dict[str, Any] = {
        "labels": {
            "alertname": ALERTNAME,
            "alert_id": alert.alert_id,
            "region": alert.region_ids[0] if alert.region_ids else "",
            "category": alert.category,
            "severity": alert.severity,
        },
        "annotations": {
            "summary": f"{alert.severity} {alert.category} outage: {where}",
            "description": describe(alert),
            "regions": where,
            "region_ids": ",".join(alert.region_ids),
            "status": alert.status,
            "observed": str(alert.observed),
            "expected": f"{alert.expected:.2f}",
            "p_value": f"{alert.p_value:.3g}",
        },
        "startsAt": iso_from_ms(starts_ms),
    }
    if ends_ms is not None:
        out["endsAt"] = iso_from_ms(ends_ms)
    if generator_url:
        out["generatorURL"] = generator_url
    return out


class AlertmanagerSink(_HttpSink):
    """Posts alert events to Alertmanager (``POST {url}/api/v2/alerts``).

    An opened or updated alert is posted without ``endsAt``, so Alertmanager keeps it
    active for its ``resolve_timeout`` (5 min by default) after each post; as Alertmanager
    expects of its clients, :meth:`keep_open` posts every open alert again every
    ``resend_s`` seconds (keep it well below ``resolve_timeout``). A resolved event is
    posted with ``endsAt`` = its detection time (not later than now), which resolves it.
    ``startsAt`` is the window start of the alert's first event seen. When an update
    changes the labels (severity rises, category or first region changes), the old label
    set is resolved in the same post, so one outage is one active alert.
    """

    name = "alertmanager"

    def __init__(
        self,
        url: str,
        *args: Any,
        resend_s: float = DEFAULT_RESEND_S,
        generator_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(url, *args, **kwargs)
        if not resend_s > 0:
            raise ConfigError("--resend", resend_s, "must be a positive number of seconds")
        if generator_url is not None:
            check_url(generator_url, "--generator-url")
        self.endpoint = url.rstrip("/") + "/api/v2/alerts"
        self.resend_s = resend_s
        self.generator_url = generator_url
        self._open: dict[str, tuple[int, dict[str, Any]]] = {}  # id -> startsAt, last post
        self._lock = asyncio.Lock()  # posts go out in event order, resends included

    @property
    def open_alerts(self) -> int:
        return len(self._open)

    def _plan(self, alert: Alert) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The alerts to post for an event, and the event's own postable alert."""
        now_ms = int(self.clock() * 1000)
        prev = self._open.get(alert.alert_id)
        starts_ms = min(alert.window_start_ms, prev[0]) if prev else alert.window_start_ms
        ends_ms = None
        if alert.status == "resolved":
            ends_ms = max(starts_ms, min(alert.detected_at_ms, now_ms))
        item = alertmanager_alert(alert, starts_ms, ends_ms, self.generator_url)
        items = [item]
        if prev and prev[1]["labels"] != item["labels"]:
            items.insert(0, {**prev[1], "endsAt": iso_from_ms(max(prev[0], now_ms))})
        return items, item

    def _apply(self, alert: Alert, item: dict[str, Any]) -> None:
        if alert.status == "resolved":
            self._open.pop(alert.alert_id, None)
        else:
            self._open[alert.alert_id] = (ms_from_iso(item["startsAt"]), item)

    def remember(self, alert: Alert) -> None:
        """Take an event into the open-alert state without posting it (at start, from the
        topic's history, so a restarted bridge keeps re-posting alerts still open)."""
        self._apply(alert, self._plan(alert)[1])

    async def deliver(self, alert: Alert) -> bool:
        """True once Alertmanager accepted the event; False when it refused it or stayed
        unreachable after every retry."""
        async with self._lock:
            items, item = self._plan(alert)
            if not await self._post(self.endpoint, dumps(items), {}):
                return False
            self._apply(alert, item)
            return True

    async def resend(self) -> bool:
        """Post every open alert again (nothing to do when none is open)."""
        async with self._lock:
            items = [item for _, item in self._open.values()]
            return not items or await self._post(self.endpoint, dumps(items), {})

    async def keep_open(self) -> None:
        """:meth:`resend` every ``resend_s`` seconds, until cancelled."""
        while True:
            await self.sleep(self.resend_s)
            await self.resend()


# --- commands -----------------------------------------------------------------------------


def _decode(rec: DumpRecord) -> Alert | None:
    """The alert in a message; None (logged) when the message is not a valid alert."""
    try:
        return Alert.from_wire(loads(rec.value or b""))
    except InvalidRecord as exc:
        log.warning("skipped %s[%d]@%d: %s", rec.topic, rec.partition, rec.offset, exc)
        return None


async def bridge(
    sink: WebhookSink | AlertmanagerSink,
    settings: Settings,
    group_id: str,
    *,
    from_beginning: bool = False,
) -> None:
    """Deliver the alerts topic to ``sink`` as consumer group ``group_id``, committing
    each alert after its delivery; stops with an error at the first undelivered alert.
    An Alertmanager sink first reads the topic's history for the alerts still open and
    re-posts them every ``resend_s`` seconds meanwhile."""
    from streams.agents.publish import describe
    from streams.kafka_io import consume_group, tail
    from streams.topics import ALERTS

    topic = settings.topic(ALERTS)
    auth = settings.kafka_auth()

    async def handle(rec: DumpRecord) -> None:
        alert = _decode(rec)
        if alert is None:
            return
        if not await sink.deliver(alert):
            raise GroundswellError(
                f"{sink.name}: alert event {topic}[{rec.partition}]@{rec.offset} not "
                "delivered; stopped before committing it (a restart resumes there)"
            )
        log.info("%s: %s", sink.name, describe(alert))

    def remember(rec: DumpRecord) -> None:
        alert = _decode(rec)
        if alert is not None and isinstance(sink, AlertmanagerSink):
            sink.remember(alert)

    resender = None
    try:
        if isinstance(sink, AlertmanagerSink):
            await tail(
                settings.bootstrap, topic, remember, from_beginning=True, follow=False, auth=auth
            )
            log.info("%s: %d alerts open in the topic's history", sink.name, sink.open_alerts)
            resender = asyncio.create_task(sink.keep_open())
        await consume_group(
            settings.bootstrap, topic, group_id, handle, from_beginning=from_beginning, auth=auth
        )
    finally:
        if resender is not None:
            resender.cancel()
        await sink.close()


def _cmd_tail(
    settings_of: Callable[[argparse.Namespace], Settings], args: argparse.Namespace
) -> int:
    from streams.kafka_io import tail
    from streams.topics import ALERTS

    settings = settings_of(args)
    wanted = AlertFilter.from_args(args)
    color = use_color(args.color, sys.stdout)
    seen = 0

    def show(rec: DumpRecord) -> bool:
        nonlocal seen
        alert = _decode(rec)
        if alert is None or not wanted.matches(alert):
            return False
        print(
            dumps(alert.to_wire()).decode() if args.json else format_alert(alert, color), flush=True
        )
        seen += 1
        return args.max is not None and seen >= args.max

    asyncio.run(
        tail(
            settings.bootstrap,
            settings.topic(ALERTS),
            show,
            from_beginning=args.from_beginning or wanted.since_ms is not None,
            follow=not args.no_follow,
            idle_timeout_s=args.timeout,
            auth=settings.kafka_auth(),
        )
    )
    return 0


def _cmd_bridge(
    settings_of: Callable[[argparse.Namespace], Settings], args: argparse.Namespace
) -> int:
    from prometheus_client import CollectorRegistry

    from streams.metrics import Metrics, serve
    from streams.settings import env_name

    settings = settings_of(args)
    policy = (args.retries, args.backoff, args.max_backoff, args.timeout)
    headers = parse_headers(args.header or ())
    metrics = Metrics(CollectorRegistry())
    sink: WebhookSink | AlertmanagerSink
    if args.alerts_command == "alertmanager":
        sink = AlertmanagerSink(
            args.url,
            *policy,
            headers,
            resend_s=args.resend,
            generator_url=args.generator_url,
            on_attempt=metrics.delivery,
        )
    else:
        sink = WebhookSink(args.url, *policy, headers, on_attempt=metrics.delivery)
    serve(metrics, settings.metrics_addr, settings.metrics_port, env_name("metrics_port"))
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    group = args.group or f"{settings.app_id}-{sink.name}"
    asyncio.run(bridge(sink, settings, group, from_beginning=args.from_beginning))
    return 0


def add_alerts_commands(asub: Any, settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    """Add ``tail``, ``alertmanager`` and ``webhook`` to ``groundswell alerts``;
    ``settings_of`` builds the settings from the parsed options."""
    t = asub.add_parser("tail", help="print alerts as they open, update and resolve")
    t.add_argument("--from-beginning", action="store_true")
    t.add_argument("--json", action="store_true", help="print the alert JSON")
    t.add_argument("--status", action="append", choices=ALERT_STATUSES, help="repeatable")
    t.add_argument("--category", action="append", help="only this category (repeatable)")
    t.add_argument("--severity", action="append", choices=SEVERITIES, help="repeatable")
    t.add_argument("--region", action="append", help="part of a region id or name (repeatable)")
    t.add_argument(
        "--since",
        help="ISO time: only alerts detected at or after it (reads the topic from its start)",
    )
    t.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    t.add_argument("--max", type=int, help="stop after this many alerts")
    t.add_argument("--no-follow", action="store_true", help="stop at the end of the topic")
    t.add_argument("--timeout", type=float, help="stop after this many idle seconds")
    t.set_defaults(func=partial(_cmd_tail, settings_of))

    for name, help_text, url_help in (
        ("alertmanager", "post alerts to Prometheus Alertmanager", "Alertmanager base URL"),
        ("webhook", "POST each alert event's JSON to a URL", "webhook URL"),
    ):
        b = asub.add_parser(name, help=help_text)
        b.add_argument("--url", required=True, help=url_help)
        b.add_argument("--group", help=f"Kafka consumer group (default: GROUNDSWELL_APP_ID-{name})")
        b.add_argument(
            "--from-beginning",
            action="store_true",
            help="while the group has no committed offset, start at the first alert",
        )
        b.add_argument(
            "--retries",
            type=int,
            default=DEFAULT_RETRY.retries,
            help=f"retries of a failed POST before the bridge stops ({DEFAULT_RETRY.retries})",
        )
        b.add_argument(
            "--backoff",
            type=float,
            default=DEFAULT_RETRY.backoff_s,
            help="seconds before the first retry, doubled at each next one "
            f"({DEFAULT_RETRY.backoff_s})",
        )
        b.add_argument(
            "--max-backoff",
            type=float,
            default=DEFAULT_RETRY.max_backoff_s,
            help=f"longest wait between retries ({DEFAULT_RETRY.max_backoff_s})",
        )
        b.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_RETRY.timeout_s,
            help=f"seconds per attempt ({DEFAULT_RETRY.timeout_s})",
        )
        b.add_argument(
            "--header", action="append", metavar="NAME:VALUE", help="request header (repeatable)"
        )
        if name == "alertmanager":
            b.add_argument(
                "--resend",
                type=float,
                default=DEFAULT_RESEND_S,
                help="seconds between re-posts of open alerts, below Alertmanager's "
                f"resolve_timeout ({DEFAULT_RESEND_S})",
            )
            b.add_argument("--generator-url", help="link shown with each alert")
        b.set_defaults(func=partial(_cmd_bridge, settings_of))
