"""The README's first command: the whole pipeline in one process on the embedded MongoDB (mongomock://)
with the bundled real KRX sample: manual_setup as of one day, then daily_update catching up missed days, the
analysis and a screener; the recorded disclosures, news and macro answers collected (collect.py), one stock's
context block and one cited analysis by an offline stub model; then the US ETF trend portfolio on the bundled
real US data: etf_pipeline's first run and a catch-up, the monthly rebalance, the trending ETFs and the
portfolios with how they did against SPY; finally what check_db shows of both. What it prints of the stored
data is demo_report.py; the API part is demo_api.py; the AI-context part is demo_ai.py.

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
import collect
import daily_update
import etf_pipeline
import hourly_analysis
import manual_setup
import monthly_rebalance
from demo_ai import RECORDED, collect_recorded, explain_move, recorded_settings
from demo_api import serve_api
from demo_predict import predict_history, print_leaderboard
from demo_report import print_screener, print_summary, print_us
from demo_us import print_us_stocks, us_stocks_settings
from demo_us import steps as us_stocks_steps
from lib.analysis.screener import Strategy, discover
from lib.config import PROJECT_ROOT, Settings, load_settings
from lib.display import count, duration
from lib.errors import ConfigError
from lib.markets.krx.settings import krx_settings
from lib.storage import Storage, get_client

SAMPLE = PROJECT_ROOT / "data" / "sample" / "krx_sample.parquet"
US_SAMPLE = PROJECT_ROOT / "data" / "sample" / "us"

Step = tuple[str, Callable[..., int], list[str], str]
RUN_FIELDS = {"_id", "kind", "job_name", "status", "date_kst", "start_time_utc", "end_time_utc", "error", "host", "pid"}


def main(argv: list[str] | None = None) -> int:
    """Set up as of --setup-day, catch up to --today, analyse, print what is stored and a screener result; then
    the US pipeline."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup-day", default="2025-05-16", help="KST day manual_setup acts on")
    parser.add_argument("--today", default="2025-06-16", help="KST day daily_update catches up to")
    parser.add_argument("--panel", type=Path, default=SAMPLE, help="replay file (parquet or CSV)")
    parser.add_argument("--strategy", default="macd_golden_cross", help="screener strategy to show")
    parser.add_argument("--market", choices=("both", "krx", "us"), default="both", help="which pipeline to run")
    parser.add_argument("--us-first-day", default="2025-08-29", help="New York day of etf_pipeline's first run")
    parser.add_argument("--us-today", default="2025-09-30", help="New York day etf_pipeline catches up to")
    parser.add_argument("--us-sessions", type=int, default=60, help="sessions etf_pipeline's first run loads")
    parser.add_argument("--us-stock-sessions", type=int, default=300,
                        help="sessions of the US stocks' bars us_stocks_update --setup loads")
    parser.add_argument("--ai-sessions", type=int, default=30, help="past sessions the stub models predict")
    parser.add_argument("--ai-stocks", type=int, default=10, help="largest stocks the stub models predict each day")
    parser.add_argument("--no-serve", action="store_true", help="do not serve the API after the pipeline")
    parser.add_argument("--port", type=int, default=0, help="port for the API on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    try:
        strategy = discover()[args.strategy]  # checked before anything runs
        settings = load_settings(
            env_file=None,
            mongodb_uri="mongomock://",
            krx_sources=["replay"],
            krx_replay_path=args.panel,
            analysis_quota_per_run=5000,
            us_sources=["replay"],
            us_replay_dir=US_SAMPLE,
            us_first_run_sessions=args.us_sessions,
            **recorded_settings(),
            **us_stocks_settings(),
        )
    except ConfigError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    print("Replaying bundled real market data into an in-memory MongoDB.")
    print("Below: what each step did. Log lines (stderr) are what cron would write to logs/cron.log.")
    code = 0
    if args.market in ("both", "krx"):
        code = run_krx(args, settings, strategy)
        if code != 0:
            return code
    if args.market in ("both", "us"):
        code = run_us(args, settings, strategy)
        if code != 0:
            return code
    if args.market in ("both", "krx"):  # after every market ran, so it shows them all (alone, the US has no KRX)
        print(f"\n=== check_db --today {args.today}   (what `python check_db.py` shows on your VM)", flush=True)
        if args.market == "both":
            print(f"(one --today for both markets: the US replay ends later, so its latest session reads {args.today})")
        code = check_db.main(["--today", args.today], settings=settings)
        if code != 0:
            return code
    if not args.no_serve:
        storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
        # The API's clock: the KRX day's evening; alone, the US part's day after its last session (21:00 KST is
        # 08:00 in New York, before that day's close), so its data is not newer than the clock.
        today = args.today
        if args.market == "us":
            today = (dt.date.fromisoformat(args.us_today) + dt.timedelta(days=1)).isoformat()
        serve_api(storage, settings, args.strategy, today, args.setup_day, args.port, us=args.market != "krx",
                  krx=args.market != "us")
    return code


def run_steps(steps: list[Step], settings: Settings) -> int:
    """Run each script in turn, saying on stdout what it did; the first non-zero exit code stops the demo."""
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    for number, (job, step, step_argv, purpose) in enumerate(steps, start=1):
        print(f"\n=== {number}/{len(steps)} {job} {' '.join(step_argv)}: {purpose}", flush=True)
        code = step(step_argv, settings=settings)
        runs = storage.jobs.runs(job, limit=1)
        if runs:
            print(step_summary(runs[0]), flush=True)
        if code != 0:
            print(f"demo: {job} exited {code}", file=sys.stderr)
            return code
    return 0


def run_krx(args: argparse.Namespace, settings: Settings, strategy: Strategy) -> int:
    """The KRX collection, analysis and a screener."""
    print(f"\nKRX: {krx_settings(settings).replay_path.name} (real KRX daily data)")
    steps: list[Step] = [
        ("manual_setup", manual_setup.main, ["--today", args.setup_day], "first install: load the history"),
        ("daily_update", daily_update.main, ["--today", args.today], "the evening run after missed days"),
        ("daily_update", daily_update.main, ["--today", args.today], "the same run again: nothing to do"),
        ("hourly_analysis", hourly_analysis.main, ["--today", args.today], "indicators and track records"),
    ]
    code = run_steps(steps, settings)
    if code != 0:
        return code
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    print_summary(storage)
    print_screener(storage, settings, strategy)
    print("\n=== collect.py: the recorded disclosures, news and macro answers (what the AI reads)", flush=True)
    code = collect_recorded(args.today, settings)
    if code != 0:
        print(f"demo: collect.py exited {code}", file=sys.stderr)
        return code
    evening = dt.datetime.combine(dt.date.fromisoformat(args.today), dt.time(12, 0), tzinfo=dt.UTC)  # 21:00 KST
    explain_move(storage, settings, args.today, evening)
    print(f"\n=== ai_predict + ai_evaluate: {args.ai_sessions} past sessions predicted by two stub models, scored on "
          "the stored bars", flush=True)
    code = predict_history(storage, settings, dt.date.fromisoformat(args.today), args.ai_sessions, args.ai_stocks)
    if code != 0:
        print(f"demo: the predictions exited {code}", file=sys.stderr)
        return code
    print_leaderboard(storage, settings.ai_leaderboard_min_count)
    return 0


def run_us(args: argparse.Namespace, settings: Settings, strategy: Strategy) -> int:
    """The US ETF pipeline's first run and a catch-up, the monthly rebalance, and what they computed; then the US
    stocks: their universe, bars, analysis, statements and options, and the same screener in dollars."""
    steps: list[Step] = [
        ("etf_pipeline", etf_pipeline.main, ["--today", args.us_first_day],
         f"first run: the last {args.us_sessions} sessions"),
        ("etf_pipeline", etf_pipeline.main, ["--today", args.us_today], "catch-up"),
        ("monthly_rebalance", monthly_rebalance.main, ["--date", args.us_today],
         "catches up every missed last Sunday"),
    ]
    if RECORDED["us.news"][1].is_dir():  # the holdings' headlines need the holdings, stored only now
        steps.append(("us_news", collect.main, ["us.news", "--today", args.us_today],
                      "the holdings' recorded headlines (what the AI reads)"))
    code = run_steps(steps, settings)
    if code != 0:
        return code
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    print_us(storage)
    print(f"\nUS stocks: {us_stocks_settings()['us_stocks_replay_dir'].relative_to(PROJECT_ROOT)} (real symbol files "
          "and yfinance bars)")
    code = run_steps(us_stocks_steps(args), settings)
    if code != 0:
        return code
    print_us_stocks(storage, settings, strategy)
    return 0


WRITTEN = {"bars_written": "daily bars", "etf_bars_written": "ETF bars", "stock_bars_written": "stock bars"}
COLLECTION_FIELDS = {"window_start", "window_end", "pending", "up_to", "days_completed", "days_no_data",
                     "days_pending", "source_calls", "last_day", *WRITTEN}


def step_summary(run: dict[str, Any]) -> str:
    """One line saying what a job's run did, from its run record."""
    took = duration((run["end_time_utc"] - run["start_time_utc"]).total_seconds())
    head = f"{run['status']} in {took}"
    if "analysed" in run:  # an analysis run (hourly_analysis, us_analysis)
        return (f"{head}: {count(run.get('analysed'))} stock(s) analysed for {run.get('day')}, "
                f"{run.get('track_records', 0)} strategy track record(s) refreshed")
    others = [f"{key}={count(value) if type(value) is int else value}" for key, value in run.items()
              if key not in RUN_FIELDS | COLLECTION_FIELDS]
    if "days_completed" not in run and "pending" not in run:  # not a collection job
        return f"{head}: {' '.join(others)}" if others else head
    if not run.get("days_completed") and not run.get("days_pending"):
        return f"{head}: nothing to collect, up to date through {run.get('up_to') or run.get('window_end')}"
    written = [f"{count(run[key])} {label} written" for key, label in WRITTEN.items() if key in run]
    return (f"{head}: {run.get('days_completed', 0)} session(s) stored through {run.get('last_day')}, "
            + ", ".join([*written, f"{count(run.get('source_calls', 0))} source calls", *others]))


if __name__ == "__main__":
    sys.exit(main())
