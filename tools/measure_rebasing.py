"""How often Yahoo's re-basing would rewrite stored US closes, and what the re-basing detector
(lib/markets/us/etf/restated.py) does about it, measured on a replay folder's ETF files (offline).

For every action (an ex-dividend date, a split) in a us_etf/<TICKER>.csv with dividends/splits columns, a daily
run on that session re-reads the 26 stored sessions before it (the pipeline's window). With closes as
`auto_adjust=True` gives them (dividends and splits applied, the project's model), Yahoo's answer after the
action has every earlier close scaled by the action's factor; with `auto_adjust=False` (Close adjusted for splits
only, dividends as a column) only a split rescales them. The tool counts the stored closes each model rewrites,
and the restatements `stale_marks` marks (each recomputes its session and the 20 after it) with the detector and
without it.

    .venv/bin/python tools/measure_rebasing.py [FOLDER]      (default: data/sample/us)
"""

from __future__ import annotations

import sys
from pathlib import Path
from unittest import mock

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.markets.us.etf import restated  # noqa: E402
from lib.storage.dates import to_utc_midnight  # noqa: E402

STORED_BEFORE = 26  # the sessions a batch re-reads and stores again before its first session (LOOKBACK + 1)
RECOMPUTED = 21  # a restated session and the 20 after it (lib/markets/us/recompute.py)


def writes(frame: pd.DataFrame, at: int, factor: float, action: str) -> list[tuple[dict, dict | None]]:
    """The bars a run on session `at` writes next to the stored ones: the earlier closes as Yahoo answered before
    the action (1 / factor of today's answer), the session itself new."""
    out: list[tuple[dict, dict | None]] = []
    for i in range(max(0, at - STORED_BEFORE), at + 1):
        row = frame.iloc[i]
        doc = {"ticker": "T", "date": to_utc_midnight(pd.Timestamp(row["date"]).date()), "close": float(row["close"]),
               "dividends": float(row["dividends"]) if i == at and action == "dividend" else 0.0,
               "splits": float(row["splits"]) if i == at and action == "split" else 0.0}
        old = None if i == at else {**doc, "close": float(row["close"]) / factor}
        out.append((doc, old))
    return out


def marks(items: list[tuple[dict, dict | None]], detector: bool) -> int:
    day = pd.Timestamp(items[-2][0]["date"]).date()
    if detector:
        return len(restated.stale_marks(items, {"T": day}, day))
    with mock.patch.object(restated, "_rebased", return_value=False):
        return len(restated.stale_marks(items, {"T": day}, day))


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path("data/sample/us")
    if not (root / "us_etf").is_dir():
        print(f"measure_rebasing: {root} has no us_etf/ folder; name a replay folder (like data/sample/us)",
              file=sys.stderr)
        return 2
    totals = {"files": 0, "with_actions": 0, "dividends": 0, "splits": 0, "adj_rewritten": 0, "raw_rewritten": 0,
              "marks_with": 0, "marks_without": 0}
    for path in sorted((root / "us_etf").glob("*.csv")):
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            print(f"measure_rebasing: cannot read {path}: {exc}; fix or remove the file", file=sys.stderr)
            return 2
        totals["files"] += 1
        if not {"dividends", "splits"} <= set(frame.columns):
            continue
        totals["with_actions"] += 1
        for at in range(1, len(frame)):
            row = frame.iloc[at]
            for action, value in (("dividend", row["dividends"]), ("split", row["splits"])):
                if not value or value <= 0:
                    continue
                # Yahoo's factor on earlier closes: 1 - dividend / previous close; 1 / ratio for a split.
                factor = 1 - value / frame.iloc[at - 1]["close"] if action == "dividend" else 1 / value
                items = writes(frame, at, factor, action)
                rewritten = len(items) - 1
                totals["dividends" if action == "dividend" else "splits"] += 1
                totals["adj_rewritten"] += rewritten
                totals["raw_rewritten"] += rewritten if action == "split" else 0
                totals["marks_with"] += marks(items, detector=True)
                totals["marks_without"] += marks(items, detector=False)
    print(f"{root}: {totals['files']} ETF files, {totals['with_actions']} with dividends/splits columns: "
          f"{totals['dividends']} ex-dividend dates, {totals['splits']} splits")
    print(f"stored closes rewritten by Yahoo's re-basing: auto_adjust=True {totals['adj_rewritten']}, "
          f"auto_adjust=False {totals['raw_rewritten']}")
    print(f"restatements marked (auto_adjust=True): with the detector {totals['marks_with']}, without it "
          f"{totals['marks_without']} (x {RECOMPUTED} sessions recomputed each = "
          f"{totals['marks_without'] * RECOMPUTED} sessions)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
