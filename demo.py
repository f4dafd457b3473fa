"""The README's first command: the whole pipeline in one process on the embedded MongoDB (mongomock://)
with the bundled real KRX sample: manual_setup as of one day, then daily_update catching up missed days, the
analysis, a screener and what check_db shows.

What each step did is printed on stdout; the log lines on stderr are what cron would append to
logs/cron.log (`./dev demo 2>/dev/null` shows the summaries only)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import check_db
import daily_update
import hourly_analysis
import manual_setup
from lib.config import PROJECT_ROOT, Settings, load_settings
from lib.display import count, duration, pad, table
from lib.errors import ConfigError
from lib.markets.krx import krx_calendar
from lib.screener import Pick, Strategy, discover, screen
from lib.storage import Storage, get_client

SAMPLE = PROJECT_ROOT / "data" / "sample" / "krx_sample.parquet"

Step = tuple[str, Callable[..., int], list[str], str]


def main(argv: list[str] | None = None) -> int:
    """Set up as of --setup-day, catch up to --today, analyse, print what is stored and a screener result."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup-day", default="2025-05-16", help="KST day manual_setup acts on")
    parser.add_argument("--today", default="2025-06-16", help="KST day daily_update catches up to")
    parser.add_argument("--panel", type=Path, default=SAMPLE, help="replay file (parquet or CSV)")
    parser.add_argument("--strategy", default="macd_golden_cross", help="screener strategy to show")
    args = parser.parse_args(argv)
    try:
        strategy = discover()[args.strategy]  # checked before anything runs
        settings = load_settings(
            env_file=None,
            mongodb_uri="mongomock://",
            krx_sources=["replay"],
            krx_replay_path=args.panel,
            analysis_quota_per_run=5000,
        )
    except ConfigError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    print(f"Replaying {settings.krx_replay_path.name} (real KRX daily data) into an in-memory MongoDB.")
    print("Below: what each step did. Log lines (stderr) are what cron would write to logs/cron.log.")
    steps: list[Step] = [
        ("manual_setup", manual_setup.main, ["--today", args.setup_day], "first install: load the history"),
        ("daily_update", daily_update.main, ["--today", args.today], "the evening run after missed days"),
        ("daily_update", daily_update.main, ["--today", args.today], "the same run again: nothing to do"),
        ("hourly_analysis", hourly_analysis.main, ["--today", args.today], "indicators and track records"),
    ]
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    for number, (job, step, step_argv, purpose) in enumerate(steps, start=1):
        print(f"\n=== {number}/{len(steps)} {job} {' '.join(step_argv)}: {purpose}", flush=True)
        code = step(step_argv, settings=settings)
        print(step_summary(storage.runs(job, limit=1)[0]), flush=True)
        if code != 0:
            print(f"demo: {job} exited {code}", file=sys.stderr)
            return code
    print_summary(storage)
    print_screener(storage, settings, strategy)
    print(f"\n=== check_db --today {args.today}   (what `python check_db.py` shows on your VM)", flush=True)
    return check_db.main(["--today", args.today], settings=settings)


def step_summary(run: dict[str, Any]) -> str:
    """One line saying what a job's run did, from its run record."""
    took = duration((run["end_time_utc"] - run["start_time_utc"]).total_seconds())
    head = f"{run['status']} in {took}"
    if run["job_name"] == "hourly_analysis":
        return (f"{head}: {count(run.get('analysed'))} stock(s) analysed for {run.get('day')}, "
                f"{run.get('track_records', 0)} strategy track record(s) refreshed")
    if not run.get("days_completed") and not run.get("days_pending"):
        return f"{head}: nothing to collect, up to date through {run.get('up_to') or run.get('window_end')}"
    return (f"{head}: {run.get('days_completed', 0)} session(s) stored through {run.get('last_day')}, "
            f"{count(run.get('bars_written', 0))} daily bars written, {count(run.get('source_calls', 0))} "
            "reads of the file (one per market per session)")


def print_summary(storage: Storage) -> None:
    """A short report of what the run stored."""
    days = storage.day_records()
    completed = [d for d in days if d["status"] == "completed"]
    universe = storage.universe()
    active = [t for t in universe if t["is_active"]]
    tickers = storage.stored_tickers()
    bars = sum(storage.stock_db[t].estimated_document_count() for t in tickers)
    print("\n=== what is stored")
    rows = [
        ["trading days", f"{len(completed)} completed ({completed[0]['date_kst']} .. {completed[-1]['date_kst']})"],
        ["stock_data", f"{len(tickers)} stocks, {count(bars)} daily bars"],
        ["target_tickers", f"{len(active)} active (market cap >= 100 billion KRW), "
                           f"{len(universe) - len(active)} inactive (data kept)"],
        ["largest five", ", ".join(f"{t['ticker']} {t['name']}" for t in active[:5])],
    ]
    for label, text in rows:
        print(f"{pad(label, 16)}{text}")


def _close_and_change(storage: Storage, ticker: str, day: dt.date) -> tuple[str, str]:
    bars = storage.read_bars(ticker, day - dt.timedelta(days=40), day)
    if not bars:
        return "-", "-"
    close = bars[-1]["close"]
    if len(bars) < 2 or not bars[-2]["close"]:
        return f"{close:,.0f}", "-"
    return f"{close:,.0f}", f"{close / bars[-2]['close'] - 1:+.2%}"


def pick_rows(storage: Storage, picks: list[Pick], names: dict[str, str]) -> list[list[str]]:
    """A table row per pick: ticker, name, close, the day's change, score and why it fired."""
    rows = []
    for pick in picks:
        close, change = _close_and_change(storage, pick.ticker, pick.date)
        rows.append([pick.ticker, names.get(pick.ticker, ""), close, change, f"{pick.score:.2f}", pick.reason])
    return rows


def record_rows(stats: dict[str, Any]) -> list[list[str]]:
    """A table row per horizon of a track record, with the excess over the universe spelled out."""
    rows = []
    for horizon, h in stats.get("horizons", {}).items():
        if not h.get("count"):
            continue
        excess = h["excess_mean"]
        verdict = "beats the universe" if excess > 0 else "TRAILS the universe" if excess < 0 else "level"
        rows.append([
            f"{horizon} sessions", count(h["count"]), f"{h['mean']:+.2%}", f"{h['median']:+.2%}",
            f"{h['hit_rate']:.0%}", f"{h['universe_mean']:+.2%}", f"{excess * 100:+.2f} pts", verdict,
        ])
    return rows


def print_screener(storage: Storage, settings: Settings, strategy: Strategy, shown: int = 10) -> None:
    """What one strategy picks on the latest analysed day, and how its past picks did against the universe."""
    day, picks = screen(storage, krx_calendar(settings), strategy, strategy.params())
    print(f"\n=== screener {strategy.name} on {day}: {strategy.description}")
    print(f"score = {strategy.score_meaning} (each strategy has its own scale; larger is stronger)")
    names = {t["ticker"]: t["name"] for t in storage.universe()}
    if picks:
        headers = ["ticker", "name", "close KRW", "day", "score", "why it fired"]
        print(table(headers, pick_rows(storage, picks[:shown], names), right=(2, 3, 4)))
        if len(picks) > shown:
            print(f"  ... and {len(picks) - shown} more")
    else:
        print("  (no stock fires on this day)")
    stats = storage.strategy_stats(strategy.name) or {}
    rows = record_rows(stats)
    print("\ntrack record of every past pick (default parameters): the return over the next N sessions, next to "
          "the average return of every analysed stock over the same days (universe); excess = pick - universe")
    if rows:
        headers = ["after", "picks", "mean", "median", "hit rate", "universe", "excess", ""]
        print(table(headers, rows, right=(1, 2, 3, 4, 5, 6)))
    else:
        print("  (no past pick has a complete horizon yet)")


if __name__ == "__main__":
    sys.exit(main())
