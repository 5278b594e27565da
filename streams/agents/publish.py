"""Alerts out: to the alerts topic, keyed by alert id, stamped with event time."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from models.records import Alert, dumps
from models.timeutil import iso_from_ms
from streams.topics import ALERTS

if TYPE_CHECKING:
    from streams.app import Context

log = logging.getLogger("groundswell.alerts")


def describe(alert: Alert) -> str:
    """One human line for an alert event."""
    where = ", ".join(alert.region_names) or ", ".join(alert.region_ids)
    return (
        f"{alert.status.upper():8} {alert.severity:8} {alert.category:15} {where} "
        f"{iso_from_ms(alert.window_start_ms)[:16]}Z observed {alert.observed} "
        f"expected {alert.expected:.2f} p={alert.p_value:.2e} id={alert.alert_id}"
    )


async def publish(ctx: Context, stage: str, alert: Alert) -> None:
    await ctx.send(
        stage,
        ALERTS,
        key=alert.alert_id.encode(),
        value=dumps(alert.to_wire()),
        timestamp=alert.detected_at_ms / 1000,
    )
    log.info("alert %s", describe(alert))
