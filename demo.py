"""The README's first command: the whole pipeline in one process on the embedded MongoDB (mongomock://)
with the bundled real KRX sample: manual_setup as of one day, then daily_update catching up missed days."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import check_db
import daily_update
import hourly_analysis
import manual_setup
from lib.calendar import TradingCalendar
from lib.config import PROJECT_ROOT, load_settings
from lib.errors import ConfigError
from lib.screener import discover, screen
from lib.storage import Storage, get_client

SAMPLE = PROJECT_ROOT / "data" / "sample" / "krx_sample.parquet"


def main(argv: list[str] | None = None) -> int:
    """Set up as of --setup-day, catch up to --today, analyse, print what is stored and a screener result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--setup-day", default="2025-05-16", help="KST day manual_setup acts on")
    parser.add_argument("--today", default="2025-06-16", help="KST day daily_update catches up to")
    parser.add_argument("--panel", type=Path, default=SAMPLE, help="replay file (parquet or CSV)")
    parser.add_argument("--strategy", default="macd_golden_cross", help="screener strategy to show")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(
            env_file=None,
            mongodb_uri="mongomock://",
            krx_sources=["replay"],
            krx_replay_path=args.panel,
            krx_min_request_gap_seconds=0,
            analysis_quota_per_run=5000,
        )
    except ConfigError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    steps = [
        ("manual_setup", manual_setup.main, ["--today", args.setup_day]),
        ("daily_update (catch-up)", daily_update.main, ["--today", args.today]),
        ("daily_update (again: nothing to do)", daily_update.main, ["--today", args.today]),
        ("hourly_analysis", hourly_analysis.main, ["--today", args.today]),
    ]
    for title, step, step_argv in steps:
        print(f"\n=== {title} {' '.join(step_argv)}", flush=True)
        code = step(step_argv, settings=settings)
        if code != 0:
            print(f"demo: {title} exited {code}", file=sys.stderr)
            return code
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    print_summary(storage)
    print_screener(storage, args.strategy)
    print(f"\n=== check_db --today {args.today}   (what `python check_db.py` shows on your VM)", flush=True)
    return check_db.main(["--today", args.today], settings=settings)


def print_summary(storage: Storage) -> None:
    """A short report of what the run stored."""
    days = storage.day_records()
    completed = [d for d in days if d["status"] == "completed"]
    universe = storage.universe()
    active = [t for t in universe if t["is_active"]]
    tickers = storage.stored_tickers()
    bars = sum(storage.stock_db[t].estimated_document_count() for t in tickers)
    print("\n=== what is stored")
    print(f"trading days completed : {len(completed)} ({completed[0]['date_kst']} .. {completed[-1]['date_kst']})")
    print(f"stock_data             : {len(tickers)} tickers, {bars} daily bars")
    print(f"target_tickers         : {len(active)} active, {len(universe) - len(active)} inactive (data kept)")
    print("largest five           : " + ", ".join(f"{t['ticker']} {t['name']}" for t in active[:5]))
    actions = storage.actions.count_documents({})
    print(f"corporate actions      : {actions} (the bundled sample is already adjusted: it has no base prices)")
    print(f"quarantined bars       : {storage.quarantine.count_documents({})} (impossible prices kept out)")
    for run in reversed(storage.runs(limit=6)):
        if run["job_name"] == "hourly_analysis":
            counts = f"day={run.get('day')} analysed={run.get('analysed')} track_records={run.get('track_records')}"
        else:
            counts = (f"days={run.get('days_completed', 0)} bars={run.get('bars_written', 0)} "
                      f"calls={run.get('source_calls', 0)}")
        print(f"run {run['job_name']:<15} {run['status']:<9} {counts}")


def print_screener(storage: Storage, name: str) -> None:
    """What one strategy picks on the latest analysed day, and how its past picks did."""
    registry = discover()
    strategy = registry[name]
    day, picks = screen(storage, TradingCalendar(), strategy, strategy.params())
    print(f"\n=== screener {name} on {day}: {strategy.description}")
    names = {t["ticker"]: t["name"] for t in storage.universe()}
    for pick in picks[:10]:
        print(f"{pick.ticker} {names.get(pick.ticker, ''):<12} score {pick.score:7.2f}  {pick.reason}")
    if not picks:
        print("(no stock fires on this day)")
    stats = storage.strategy_stats(name) or {"horizons": {}}
    for horizon, h in stats["horizons"].items():
        if h["count"]:
            print(
                f"track record {horizon:>2} sessions: {h['count']:4d} picks, mean {h['mean']:+.2%}, "
                f"median {h['median']:+.2%}, hit rate {h['hit_rate']:.0%}, universe {h['universe_mean']:+.2%}"
            )


if __name__ == "__main__":
    sys.exit(main())
