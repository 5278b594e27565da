"""Topic names (with the configured prefix) and how each is created."""

from __future__ import annotations

from dataclasses import dataclass

from streams.kafka_admin import TopicSpec
from streams.settings import Settings

RAW = "posts.raw"
NORMALIZED = "posts.normalized"
RELEVANT = "posts.relevant"
GLOBAL = "posts.global"
DEADLETTER = "posts.deadletter"
TICKETS = "tickets"
ALERTS = "alerts"
ALL = (RAW, NORMALIZED, RELEVANT, GLOBAL, DEADLETTER, TICKETS, ALERTS)
GLOBAL_PARTITIONS = 1  # one global detector sees every relevant post
# Messages carry their post's event time as timestamp; time-based retention would delete a
# replayed history (or a backlog of old posts) at once, under the workers' feet. The topics
# the pipeline creates therefore keep messages until the broker's size limit
# (retention.bytes) or the operator's own policy.
KEEP = {"retention.ms": "-1"}


@dataclass(frozen=True)
class TopicNames:
    raw: str
    normalized: str
    relevant: str
    global_: str
    deadletter: str
    tickets: str
    alerts: str

    @classmethod
    def of(cls, settings: Settings) -> TopicNames:
        return cls(*(settings.topic(t) for t in ALL))


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every pipeline topic with its partitions (alerts keep every state change, and the
    global detector reads one partition)."""
    n = settings.partitions
    return [
        TopicSpec(settings.topic(RAW), n, KEEP),
        TopicSpec(settings.topic(NORMALIZED), n, KEEP),
        TopicSpec(settings.topic(RELEVANT), n, KEEP),
        TopicSpec(settings.topic(GLOBAL), GLOBAL_PARTITIONS, KEEP),
        TopicSpec(settings.topic(DEADLETTER), 1, KEEP),
        TopicSpec(settings.topic(TICKETS), 1, KEEP),
        TopicSpec(settings.topic(ALERTS), 1, KEEP),
    ]
