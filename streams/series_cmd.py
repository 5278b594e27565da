"""``groundswell detect-series``: the temporal detector over any regular count series.

Reads a CSV (tickets per hour, another tool's report counts...), scores every row with
:func:`models.series.score_series` and writes the rows back with ``expected``,
``p_value``, ``score`` (in [0, 1], above 0.5 exactly when ``p < alpha``) and ``alert``.
Times that parse as dates are UTC (a time without an offset is read as UTC); other
times are plain positions, and ``--period auto`` then means no seasonality.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from models.errors import ConfigError, InvalidRecord
from models.series import score_series
from streams.files import check_files


def _times(column: Any) -> tuple[list[int], bool]:
    """Epoch milliseconds (dates) or the numbers themselves, and whether they are dates."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column):
        return [int(v) for v in column], False
    try:
        stamps = pd.to_datetime(column, utc=True, format="mixed")
    except (ValueError, TypeError) as exc:
        raise InvalidRecord("invalid time", str(exc)) from None
    if stamps.isna().any():
        raise InvalidRecord("invalid time", f"row {int(stamps.isna().to_numpy().argmax()) + 1}")
    return [int(t.value // 1_000_000) for t in stamps], True


def cmd_detect_series(args: argparse.Namespace) -> int:
    import pandas as pd

    check_files([("SERIES", args.series)], args.out)
    try:
        frame = pd.read_csv(args.series)
    except (OSError, ValueError) as exc:
        raise ConfigError("SERIES", args.series, f"cannot read CSV: {exc}") from None
    for option, name in (("--time-col", args.time_col), ("--value-col", args.value_col)):
        if name not in frame.columns:
            raise ConfigError(option, name, f"no such column; columns: {list(frame.columns)}")
    times, calendar = _times(frame[args.time_col])
    values = pd.to_numeric(frame[args.value_col], errors="coerce")
    points = score_series(
        times,
        [None if pd.isna(v) else float(v) for v in values],
        period=args.period,
        calendar=calendar,
        alpha=args.alpha,
        min_count=args.min_count,
        warmup=args.warmup,
    )
    frame["expected"] = [round(p.expected, 6) for p in points]
    frame["p_value"] = [p.p_value for p in points]
    frame["score"] = [p.score for p in points]
    frame["alert"] = [p.alert for p in points]
    frame.to_csv(args.out, index=False)
    print(
        f"{len(points)} rows, {sum(p.alert for p in points)} alert(s) -> {args.out}",
        file=sys.stderr,
    )
    return 0


def register(sub: Any) -> None:
    """Add ``detect-series`` to the command line's subcommands."""
    p = sub.add_parser("detect-series", help="anomaly score and alert flag for a count series")
    p.add_argument("series", metavar="SERIES.csv", help="CSV with a time and a count column")
    p.add_argument("--time-col", required=True, help="column of times (dates, or positions)")
    p.add_argument("--value-col", required=True, help="column of counts (blank: missing)")
    p.add_argument("--out", required=True, metavar="SCORES.csv", help="rows with the scores")
    p.add_argument(
        "--period",
        default="auto",
        help="seasonality: auto (UTC hour of week / weekday), none, or N steps (default auto)",
    )
    p.add_argument("--alpha", type=float, default=0.01, help="alert when p < alpha (0.01)")
    p.add_argument("--min-count", type=float, default=1.0, help="least count that alerts (1)")
    p.add_argument("--warmup", type=int, help="rows that never alert (default: a day, >= 12)")
    p.set_defaults(func=cmd_detect_series)
