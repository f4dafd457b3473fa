"""The README's first command: the whole pipeline in one process on the embedded MongoDB (mongomock://)
with the bundled real KRX sample: manual_setup as of one day, then daily_update catching up missed days; then
the US ETF trend portfolio on the bundled real US data: etf_pipeline's first run and a catch-up, the monthly
rebalance, the trending ETFs and the portfolios with how they did against SPY."""

from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path

import check_db
import daily_update
import etf_pipeline
import hourly_analysis
import manual_setup
import monthly_rebalance
from lib.calendar import TradingCalendar
from lib.config import PROJECT_ROOT, load_settings
from lib.errors import ConfigError
from lib.screener import discover, screen
from lib.storage import Storage, get_client

SAMPLE = PROJECT_ROOT / "data" / "sample" / "krx_sample.parquet"
US_SAMPLE = PROJECT_ROOT / "data" / "sample" / "us"


def main(argv: list[str] | None = None) -> int:
    """Set up as of --setup-day, catch up to --today, analyse, print what is stored and a screener result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--setup-day", default="2025-05-16", help="KST day manual_setup acts on")
    parser.add_argument("--today", default="2025-06-16", help="KST day daily_update catches up to")
    parser.add_argument("--panel", type=Path, default=SAMPLE, help="replay file (parquet or CSV)")
    parser.add_argument("--strategy", default="macd_golden_cross", help="screener strategy to show")
    parser.add_argument("--market", choices=("both", "krx", "us"), default="both", help="which pipeline to run")
    parser.add_argument("--us-first-day", default="2025-08-29", help="New York day of etf_pipeline's first run")
    parser.add_argument("--us-today", default="2025-09-30", help="New York day etf_pipeline catches up to")
    parser.add_argument("--us-sessions", type=int, default=60, help="sessions etf_pipeline's first run loads")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(
            env_file=None,
            mongodb_uri="mongomock://",
            krx_sources=["replay"],
            krx_replay_path=args.panel,
            krx_min_request_gap_seconds=0,
            analysis_quota_per_run=5000,
            us_sources=["replay"],
            us_replay_dir=US_SAMPLE,
            us_first_run_sessions=args.us_sessions,
        )
        if args.strategy not in {s.name for s in discover()}:
            raise ConfigError(f"--strategy {args.strategy}: no such strategy")
    except ConfigError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    if args.market in ("both", "krx"):
        code = run_krx(args, settings)
        if code != 0:
            return code
    if args.market in ("both", "us"):
        return run_us(args, settings)
    return 0


def run_steps(steps: list, settings: object) -> int:
    """Run each script in turn; the first non-zero exit code stops the demo."""
    for title, step, step_argv in steps:
        print(f"\n=== {title} {' '.join(step_argv)}", flush=True)
        code = step(step_argv, settings=settings)
        if code != 0:
            print(f"demo: {title} exited {code}", file=sys.stderr)
            return code
    return 0


def run_krx(args: argparse.Namespace, settings: object) -> int:
    """The KRX collection, analysis and a screener."""
    steps = [
        ("manual_setup", manual_setup.main, ["--today", args.setup_day]),
        ("daily_update (catch-up)", daily_update.main, ["--today", args.today]),
        ("daily_update (again: nothing to do)", daily_update.main, ["--today", args.today]),
        ("hourly_analysis", hourly_analysis.main, ["--today", args.today]),
    ]
    code = run_steps(steps, settings)
    if code != 0:
        return code
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)  # type: ignore[attr-defined]
    print_summary(storage)
    print_screener(storage, args.strategy)
    print(f"\n=== check_db --today {args.today}   (what `python check_db.py` shows on your VM)", flush=True)
    return check_db.main(["--today", args.today], settings=settings)


def run_us(args: argparse.Namespace, settings: object) -> int:
    """The US ETF pipeline's first run and a catch-up, the monthly rebalance, and what they computed."""
    steps = [
        (f"etf_pipeline (first run: the last {args.us_sessions} sessions)", etf_pipeline.main,
         ["--today", args.us_first_day]),
        ("etf_pipeline (catch-up)", etf_pipeline.main, ["--today", args.us_today]),
        ("monthly_rebalance (catches up every missed last Sunday)", monthly_rebalance.main, ["--date", args.us_today]),
    ]
    code = run_steps(steps, settings)
    if code != 0:
        return code
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)  # type: ignore[attr-defined]
    print_us(storage)
    return 0


def _pct(value: float | None) -> str:
    return "    n/a" if value is None else f"{value * 100:+7.2f}%"


def _fit(text: str, width: int) -> str:
    """Cut and pad to a display width (a Korean character takes two columns)."""
    out, used = "", 0
    for char in text:
        wide = 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
        if used + wide > width:
            break
        out, used = out + char, used + wide
    return out + " " * (width - used)


def print_us(storage: Storage) -> None:
    """The trending ETFs and the portfolios of the last session, the monthly portfolios, and how they did."""
    day = storage.latest_trending_day()
    if day is None:
        print("\n(no US session processed)")
        return
    print(f"\n=== trending ETFs on {day} (returns to the close of {day}; the signal holds from the next session)")
    print(f"{'ETF':<5} {'sector':<19} " + " ".join(f"{f'{n}-session':>13} {'vs SPY':>9}" for n in (5, 10, 20)))
    rows: dict[str, dict[int, dict]] = {}
    for row in storage.trending_rows(day):
        rows.setdefault(row["etf_ticker"], {})[row["period_days"]] = row
    order = sorted(rows, key=lambda t: rows[t][20]["rank_by_outperformance"] or 99)
    for ticker in order:
        cells = []
        for n in (5, 10, 20):
            r = rows[ticker][n]
            flag = "*" if r["is_trending"] else " "
            lead = "" if r["outperformance"] is None else f"{r['outperformance'] * 100:+.2f}pt"
            cells.append(f"{_pct(r['return_nd'])}{flag:>5} {lead:>9}")
        print(f"{ticker:<5} {rows[ticker][20]['sector_name'][:19]:<19} " + " ".join(cells))
    print("(* trending: above SPY's return and above zero; pt = percentage points ahead of SPY)")
    for period in (5, 10, 20):
        portfolio = storage.portfolio(day, period)
        if portfolio is None:
            continue
        print(f"\n=== {period}-session portfolio of {day}, for {portfolio['valid_from']}..{portfolio['valid_until']}")
        if not portfolio["positions"]:
            print(f"(empty: {portfolio['note']})")
        for p in portfolio["positions"]:
            cap = "n/a" if p["market_cap_used"] is None else f"USD {p['market_cap_used'] / 1e9:,.0f}B"
            if p["market_cap"] is None and p["market_cap_used"] is not None:
                cap += " (median)"
            print(f"{p['rank']:>2}. {p['ticker']:<10} {_fit(p['name'], 24)} weight {p['weight'] * 100:6.2f}%  "
                  f"return {_pct(p['return_nd'])}  market cap {cap:<20} from {','.join(p['source_etfs'])}")
        for x in portfolio["excluded"]:
            print(f"    {x['etf']} gives nothing: {x['reason']}")
    print("\n=== monthly portfolios (last Sunday of each month, for the next 20 sessions)")
    for month in storage.monthly_months():
        doc = storage.monthly(month)
        perf = doc.get("performance") or {}
        names = ", ".join(f"{p['ticker']} {p['final_weight'] * 100:.1f}%" for p in doc["positions"][:6])
        more = f" and {len(doc['positions']) - 6} more" if len(doc["positions"]) > 6 else ""
        print(f"{month}: {len(doc['positions'])} stocks ({names}{more})")
        print(f"         {doc['valid_from']}..{doc['valid_until']}: {perf.get('status', 'pending')} through "
              f"{perf.get('through')}: portfolio {_pct(perf.get('portfolio_return'))}, "
              f"SPY {_pct(perf.get('spy_return'))}, excess {_pct(perf.get('excess_return'))}")
    print("\n=== how the daily portfolios did against SPY (finished periods, bought at the signal day's close; one a "
          "day, so they overlap)")
    for period in (5, 10, 20):
        finals = [p["performance"] for p in storage.etf_db["analytics_portfolio_allocation"].find(
            {"period_days": period, "performance.status": "final"}, {"performance": 1})]
        if not finals:
            continue
        excess = [f["excess_return"] for f in finals]
        beat = sum(1 for e in excess if e > 0)
        mean = sum(excess) / len(excess)
        print(f"{period:>2}-session portfolios: {len(finals):3d} finished, mean excess return {mean * 100:+.2f}% "
              f"per period, beat SPY {beat}/{len(finals)} ({beat / len(finals):.0%})")


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
