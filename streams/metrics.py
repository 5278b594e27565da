"""Every Prometheus metric of the pipeline, built against a registry that is passed in.

Names are ``groundswell_<subsystem>_<what>_<unit>``; labels are bounded (stage, topic,
reason, category, language, method, severity, zone) — never post, author or alert ids.
Workers and the alert bridges serve them on ``/metrics`` (``GROUNDSWELL_METRICS_ADDR``,
``GROUNDSWELL_METRICS_PORT``).

>>> from prometheus_client import CollectorRegistry
>>> m = Metrics(CollectorRegistry())
>>> m.consumed("classify")
>>> m.registry.get_sample_value(
...     "groundswell_stage_messages_consumed_total", {"stage": "classify"})
1.0
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

from models.errors import ConfigError

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from models.records import Alert, RelevantPost

NS = "groundswell"
STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
LAG_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400)
DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """The pipeline's metrics in ``registry`` (with the process and platform collectors)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)

        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(name, doc, labels, namespace=NS, registry=registry)

        def gauge(name: str, doc: str, labels: tuple[str, ...]) -> Gauge:
            return Gauge(name, doc, labels, namespace=NS, registry=registry)

        def histogram(
            name: str, doc: str, labels: tuple[str, ...], buckets: tuple[float, ...]
        ) -> Histogram:
            return Histogram(name, doc, labels, namespace=NS, registry=registry, buckets=buckets)

        self._consumed = counter(
            "stage_messages_consumed_total",
            "Records (posts, watermarks) taken from a stage's topic, each record of a batch",
            ("stage",),
        )
        self._produced = counter(
            "stage_messages_produced_total",
            "Records sent by a stage, each record of a batch",
            ("stage", "topic"),
        )
        self._dead = counter(
            "stage_dead_letters_total", "Messages dead-lettered, by reason", ("stage", "reason")
        )
        self._relevant = counter(
            "relevance_posts_total", "Relevant posts by category and language", ("category", "lang")
        )
        self._located = counter(
            "geo_posts_total", "Relevant posts by locate method (unlocated too)", ("method",)
        )
        self._windows = counter(
            "detect_windows_closed_total", "Windows closed by the detectors", ("detector",)
        )
        self._redelivered = counter(
            "detect_redelivered_posts_total",
            "Posts a detector had already counted, sent again after a restart or rebalance",
            ("detector",),
        )
        self._alerts = counter(
            "alerts_events_total",
            "Alert events by status, category, severity and zone",
            ("status", "category", "severity", "zone"),
        )
        self._latency = histogram(
            "stage_processing_seconds",
            "Time to handle one message (normalize, classify: a group taken together), per stage",
            ("stage",),
            STAGE_BUCKETS,
        )
        self._event_lag = histogram(
            "detect_event_lag_seconds",
            "Wall clock minus event time of each message at detection",
            ("detector",),
            LAG_BUCKETS,
        )
        self._lag = gauge(
            "kafka_consumer_lag_messages",
            "End offset minus committed offset of this worker's partitions",
            ("topic", "partition"),
        )
        self._state = gauge(
            "detect_state_bytes", "Serialized detector state held by this worker", ("detector",)
        )
        self._last = gauge(
            "stage_last_processed_timestamp_seconds",
            "Unix time of the last message a stage handled",
            ("stage",),
        )
        self._delivery = counter(
            "delivery_attempts_total", "Alert delivery attempts by outcome", ("sink", "outcome")
        )
        self._delivery_time = histogram(
            "delivery_seconds", "Time of one alert delivery attempt", ("sink",), DELIVERY_BUCKETS
        )

    def consumed(self, stage: str, records: int = 1) -> None:
        self._consumed.labels(stage).inc(records)

    def produced(self, stage: str, topic: str, records: int = 1) -> None:
        self._produced.labels(stage, topic).inc(records)

    def dead_letter(self, stage: str, reason: str) -> None:
        self._dead.labels(stage, reason).inc()

    def relevant(self, post: RelevantPost) -> None:
        """A relevant post: its category, language and how it was located."""
        self._relevant.labels(post.category, post.lang or "unknown").inc()
        self._located.labels(post.locate_method).inc()

    def windows_closed(self, detector: str, n: int) -> None:
        if n > 0:
            self._windows.labels(detector).inc(n)

    def redelivered(self, detector: str) -> None:
        self._redelivered.labels(detector).inc()

    def alert(self, alert: Alert, zone: str) -> None:
        self._alerts.labels(alert.status, alert.category, alert.severity, zone).inc()

    def processed(self, stage: str, seconds: float, event_time_s: float | None = None) -> None:
        """One message handled by ``stage`` in ``seconds``; at a detector, also the lag of
        its event time behind the wall clock."""
        self._latency.labels(stage).observe(seconds)
        now = time.time()
        self._last.labels(stage).set(now)
        if event_time_s is not None:
            self._event_lag.labels(stage).observe(max(0.0, now - event_time_s))

    def consumer_lag(self, lags: dict[tuple[str, int], int]) -> None:
        """Replace the lag series with this worker's current partitions."""
        self._lag.clear()
        for (topic, partition), lag in sorted(lags.items()):
            self._lag.labels(topic, str(partition)).set(lag)

    def state_bytes(self, detector: str, n: int) -> None:
        self._state.labels(detector).set(n)

    def delivery(self, sink: str, outcome: str, seconds: float) -> None:
        """One attempt of an alert sink: ``ok``, ``retry`` or ``failed``."""
        self._delivery.labels(sink, outcome).inc()
        self._delivery_time.labels(sink).observe(seconds)


def serve(metrics: Metrics, addr: str, port: int, setting: str) -> WSGIServer | None:
    """Serve ``/metrics`` on ``addr:port`` in a daemon thread (None when ``port`` is 0); a
    port that cannot be bound stops the program naming ``setting``."""
    if port == 0:
        return None
    try:
        server, _thread = start_http_server(port, addr=addr, registry=metrics.registry)
    except OSError as exc:
        raise ConfigError(setting, f"{addr}:{port}", f"cannot listen: {exc.strerror}") from None
    return server
