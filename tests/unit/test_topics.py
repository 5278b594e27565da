"""Topic names and how the pipeline creates them."""

from __future__ import annotations

from streams.settings import Settings
from streams.topics import ALL, topic_specs


def test_every_topic_is_created_without_time_based_retention() -> None:
    # replayed posts carry old event times: time retention would delete them at once
    specs = topic_specs(Settings(topic_prefix="p."))
    assert [s.name for s in specs] == [f"p.{t}" for t in ALL]
    assert all(s.config.get("retention.ms") == "-1" for s in specs)
