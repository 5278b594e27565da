"""The soak's plan replayed offline (no broker): planted outages on a quiet background
alert, each within the windows after its start."""

from __future__ import annotations

from streams.settings import Settings
from streams.soak import offline, outages_alerted, soak_plan


def test_planted_outages_alert_on_a_quiet_background() -> None:
    plan = soak_plan(rate=20, minutes=30)
    events, region, posts = offline(Settings(), plan, complaints=False)
    assert posts > 30 * 60 * 20 * 0.9
    delays = outages_alerted(plan, region, events)
    assert len(delays) == 3
    assert all(d is not None and 0 <= d <= 300 for d in delays), delays
    assert {region} == {r for _, a in events for r in a.region_ids}


def test_an_alert_outside_the_outage_does_not_count() -> None:
    plan = soak_plan(rate=20, minutes=10)
    events, region, _ = offline(Settings(), plan, complaints=False)
    assert events
    late = [(plan.outages[0][0] + 900.0, a) for _, a in events]
    assert outages_alerted(plan, region, late) == [None]
