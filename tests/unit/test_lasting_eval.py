"""The lasting-change evaluation: its runs see what they plant."""

from __future__ import annotations

from streams.lasting_eval import NEVER, run


def test_a_tenfold_rise_alerts_at_once_and_a_planted_outage_is_seen() -> None:
    rise = run(0, lambda h: 10.0, 2, NEVER)
    assert len(rise.changed) == 1 and rise.changed[0][0] <= 0.25 and not rise.changed[0][2]
    assert rise.elsewhere == 0 and rise.extra_found is None
    quiet = run(0, lambda h: 1.0, 3, 288, extra_at_h=2)
    assert quiet.extra_found is True and quiet.changed[0][0] > 2
