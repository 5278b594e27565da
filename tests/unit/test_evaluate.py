"""The evaluator on hand-made alerts and truths, and the evaluate command end to end."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from models.evaluate import Evaluation, evaluate, group_alerts, read_truth
from models.records import Alert, dumps
from models.scenario import DAY_MS, Decoy, Outage, Truth
from models.timeutil import ms_from_iso
from streams.cli import main

T0 = ms_from_iso("2024-03-04T00:00:00Z")
MIN = 60_000
START = T0 + DAY_MS + 10 * 60 * MIN  # day 2, 10:00
NEIGHBOURS = {"a": ("b",), "b": ("a", "c"), "c": ("b",), "d": ()}


def _outage(oid: str = "o1", regions: tuple[str, ...] = ("a",), **kw: object) -> Outage:
    base: dict[str, object] = dict(
        id=oid,
        region_ids=regions,
        category="voice",
        start_ms=START,
        end_ms=START + 30 * MIN,
        extra_per_min=1.0,
        expected_authors=30.0,
        planted_authors=30,
        first_ticket_ms=START + 25 * MIN,
    )
    base.update(kw)
    return Outage(**base)  # type: ignore[arg-type]


def _truth(outages: tuple[Outage, ...] = (), decoys: tuple[Decoy, ...] = ()) -> Truth:
    return Truth("t", 1, T0, T0 + 3 * DAY_MS, T0 + DAY_MS, 4, outages, decoys)


def _alert(
    aid: str, at_ms: int, regions: tuple[str, ...] = ("a",), status: str = "opened"
) -> Alert:
    return Alert(
        aid, status, "minor", "voice", regions, regions, None, at_ms - 5 * MIN, at_ms,
        at_ms - 4 * MIN, at_ms, 6, 1.0, 0.5, 1e-6, 6,
    )  # fmt: skip


def test_an_alert_in_the_outage_region_and_time_detects_it() -> None:
    ev = evaluate([_alert("x", START + 10 * MIN)], _truth((_outage(),)))
    assert (ev.recall, ev.false_alerts, ev.alerts) == (1.0, 0, 1)
    assert ev.ttd_median_min == 10.0 and ev.lead_median_min == 15.0


def test_a_neighbouring_region_matches_only_when_neighbours_are_known() -> None:
    alerts, truth = [_alert("x", START + 5 * MIN, ("b",))], _truth((_outage(),))
    assert evaluate(alerts, truth, NEIGHBOURS).recall == 1.0
    plain = evaluate(alerts, truth)
    assert (plain.recall, plain.false_alerts) == (0.0, 1)
    far = evaluate([_alert("x", START + 5 * MIN, ("c",))], truth, NEIGHBOURS)
    assert (far.recall, far.false_alerts) == (0.0, 1)


@pytest.mark.parametrize(
    ("offset_min", "detected"),
    [(-5, False), (0, True), (30, True), (60, True), (61, False)],
)
def test_alert_time_must_fall_between_start_and_end_plus_grace(
    offset_min: int, detected: bool
) -> None:
    ev = evaluate([_alert("x", START + offset_min * MIN)], _truth((_outage(),)), grace_ms=30 * MIN)
    assert ev.recall == (1.0 if detected else 0.0)
    assert ev.false_alerts == (0 if detected else 1)


def test_events_of_one_alert_are_grouped_and_regions_added() -> None:
    events = [
        _alert("x", START - 60 * MIN, ("d",)),
        _alert("x", START + 5 * MIN, ("a", "d"), status="updated"),
        _alert("x", START + 20 * MIN, ("a", "d"), status="resolved"),
    ]
    (span,) = group_alerts(events)
    assert span.opened_ms == START - 60 * MIN and span.region_ids == ("a", "d")
    ev = evaluate(events, _truth((_outage(),)))
    assert (ev.recall, ev.alerts, ev.false_alerts) == (0.0, 1, 1)  # it opened before


def test_false_and_decoy_alerts_per_day_and_region_days() -> None:
    decoy = Decoy("rant", "rant", ("d",), START + 120 * MIN, START + 150 * MIN, 40)
    alerts = [
        _alert("hit", START + 5 * MIN),
        _alert("decoy", START + 130 * MIN, ("d",)),
        _alert("noise", START + 600 * MIN, ("c",)),
        _alert("history", T0 + 60 * MIN, ("c",)),  # before eval_start: not scored
    ]
    ev = evaluate(alerts, _truth((_outage(),), (decoy,)), NEIGHBOURS)
    assert (ev.alerts, ev.false_alerts, ev.decoy_alerts) == (3, 2, 1)
    assert ev.days == 2.0 and ev.region_days == 8.0
    assert ev.false_per_day == 1.0 and ev.false_per_1000_region_days == 250.0


def test_recall_by_size_time_to_detect_and_lead() -> None:
    outages = (
        _outage("tiny", ("a",), planted_authors=3, extra_per_min=0.1),
        _outage("small", ("c",), planted_authors=12, extra_per_min=0.4, first_ticket_ms=None),
        _outage("big", ("d",), planted_authors=150, extra_per_min=5.0),
    )
    alerts = [_alert("s", START + 20 * MIN, ("c",)), _alert("b", START + 5 * MIN, ("d",))]
    ev = evaluate(alerts, _truth(outages))
    assert ev.recall == 0.6667 and ev.recall_at_least(8) == 1.0
    assert ev.recall_by_size["tiny <8"] == (1, 0.0)
    assert ev.recall_by_size["small 8-29"] == (1, 1.0)
    assert ev.recall_by_size["medium 30-99"] == (0, None)
    assert ev.ttd_median_min == 12.5 and ev.ttd_p90_min == 18.5
    assert ev.ttd_median_fast_min == 5.0
    assert ev.lead_median_min == 20.0  # only the big one has a ticket
    assert [o.ttd_ms for o in ev.outcomes] == [None, 20 * MIN, 5 * MIN]


def test_one_alert_may_detect_two_outages_and_nothing_is_none_safe() -> None:
    outages = (_outage("o1", ("a",)), _outage("o2", ("b",)))
    ev = evaluate([_alert("x", START + 5 * MIN, ("a", "b"))], _truth(outages))
    assert ev.detected == 2 and ev.false_alerts == 0
    empty = evaluate([], _truth())
    assert (empty.recall, empty.ttd_median_min, empty.lead_median_min) == (None, None, None)
    assert "outages               0 planted" in empty.table()


def test_pooled_sums_counts_and_joins_outcomes() -> None:
    one = evaluate([_alert("x", START + 5 * MIN)], _truth((_outage(),)))
    two = evaluate([_alert("y", START + 500 * MIN, ("c",))], _truth((_outage(),)))
    pooled = Evaluation.pooled([one, two])
    assert (pooled.recall, pooled.false_alerts, pooled.days) == (0.5, 1, 4.0)
    assert pooled.to_dict()["false_per_day"] == 0.25


def test_negative_grace_is_refused() -> None:
    with pytest.raises(ValueError):
        evaluate([], _truth(), grace_ms=-1)


def test_evaluate_command_scores_the_demo_backtest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--seed", "3", "--out", str(tmp_path)]) == 0
    alerts = tmp_path / "alerts.jsonl"
    regions = str(tmp_path / "regions.geojson")
    assert (
        main(
            ["backtest", str(tmp_path / "posts.jsonl"), "--regions", regions, "--out", str(alerts)]
        )
        == 0
    )
    capsys.readouterr()
    truth = str(tmp_path / "truth.jsonl")
    assert (
        main(
            ["evaluate", "--alerts", str(alerts), "--truth", truth, "--regions", regions, "--json"]
        )
        == 0
    )
    scores = orjson.loads(capsys.readouterr().out)
    assert scores["recall"] == 1.0 and scores["outages"] == 1
    assert scores["ttd_median_min"] is not None and scores["lead_median_min"] > 0
    assert main(["evaluate", "--alerts", str(alerts), "--truth", truth]) == 0
    assert "recall                1" in capsys.readouterr().out
    # a region spec, as every other command takes (it was read as a file name)
    spec = ["--regions", "hex:bbox:9,45,10,46:4"]
    assert main(["evaluate", "--alerts", str(alerts), "--truth", truth, *spec]) == 0
    assert read_truth(truth).region_count == 30


def test_evaluate_command_reports_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "truth.jsonl"
    bad.write_bytes(dumps({"kind": "outage", "id": "x"}) + b"\n")
    empty = tmp_path / "alerts.jsonl"
    empty.write_bytes(b"")
    assert main(["evaluate", "--alerts", str(empty), "--truth", str(bad)]) == 1
    assert "invalid region_ids" in capsys.readouterr().err


def test_a_global_alert_covers_every_region_but_not_another_time() -> None:
    truth = _truth((_outage(regions=("d",)),))
    during = evaluate([_alert("g", START + 5 * MIN, ("*",))], truth)
    assert (during.recall, during.false_alerts) == (1.0, 0)
    before = evaluate([_alert("g", START - 60 * MIN, ("*",))], truth)
    assert (before.recall, before.false_alerts) == (0.0, 1)
