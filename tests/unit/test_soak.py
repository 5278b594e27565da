"""The soak's plan replayed offline (no broker): planted outages alert, each within the
windows after its start, on the soak's busy background and on a quiet one."""

from __future__ import annotations

from streams.settings import Settings
from streams.soak import offline, outages_alerted, soak_plan


def test_planted_outages_alert_on_the_soaks_busy_background() -> None:
    """The background holds a region far busier than its share of the zone: the cold
    start must not make that look like noise, nor raise the outage region's expectation."""
    plan = soak_plan(rate=50, minutes=30)
    events, region, posts = offline(Settings(), plan, complaints=True)
    assert posts > 30 * 60 * 50 * 0.9
    assert outages_alerted(plan, region, events) == [60.0, 60.0, 60.0]
    assert {region} == {r for _, a in events for r in a.region_ids}  # nothing nationwide


def test_planted_outages_alert_on_a_quiet_background() -> None:
    """With no complaint before it, the first outage is the zone's first data: it falls in
    the warm-up and its first window becomes the region's level; the later ones alert."""
    plan = soak_plan(rate=20, minutes=30)
    events, region, _ = offline(Settings(), plan, complaints=False)
    delays = outages_alerted(plan, region, events)
    assert delays[0] is None and all(d is not None and 0 <= d <= 300 for d in delays[1:])
    assert {region} == {r for _, a in events for r in a.region_ids}


def test_an_alert_outside_the_outage_does_not_count() -> None:
    plan = soak_plan(rate=20, minutes=10)
    events, region, _ = offline(Settings(), plan, complaints=True)
    assert events
    late = [(plan.outages[0][0] + 900.0, a) for _, a in events]
    assert outages_alerted(plan, region, late) == [None]
