"""The README's first command: the whole pipeline in one process on the embedded MongoDB (mongomock://)
with the bundled real KRX sample: manual_setup as of one day, then daily_update catching up missed days, the
analysis and a screener; then the US ETF trend portfolio on the bundled real US data: etf_pipeline's first run
and a catch-up, the monthly rebalance, the trending ETFs and the portfolios with how they did against SPY;
finally what check_db shows of both.

What each step did is printed on stdout; the log lines on stderr are what cron would append to
logs/cron.log (`./dev demo 2>/dev/null` shows the summaries only)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

import check_db
import daily_update
import etf_pipeline
import hourly_analysis
import manual_setup
import monthly_rebalance
from lib.analysis.screener import Pick, Strategy, discover, screen
from lib.config import PROJECT_ROOT, Settings, load_settings
from lib.display import count, duration, krw, pad, table, width
from lib.errors import ConfigError
from lib.markets.krx.market import krx_calendar
from lib.markets.krx.settings import krx_settings
from lib.markets.us.etf.marks import marks_text, performance_summary
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
        code = run_us(args, settings)
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
        runs = storage.runs(job, limit=1)
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
    return 0


def run_us(args: argparse.Namespace, settings: Settings) -> int:
    """The US ETF pipeline's first run and a catch-up, the monthly rebalance, and what they computed."""
    steps: list[Step] = [
        ("etf_pipeline", etf_pipeline.main, ["--today", args.us_first_day],
         f"first run: the last {args.us_sessions} sessions"),
        ("etf_pipeline", etf_pipeline.main, ["--today", args.us_today], "catch-up"),
        ("monthly_rebalance", monthly_rebalance.main, ["--date", args.us_today],
         "catches up every missed last Sunday"),
    ]
    code = run_steps(steps, settings)
    if code != 0:
        return code
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    print_us(storage)
    return 0


WRITTEN = {"bars_written": "daily bars", "etf_bars_written": "ETF bars", "stock_bars_written": "stock bars"}
COLLECTION_FIELDS = {"window_start", "window_end", "pending", "up_to", "days_completed", "days_no_data",
                     "days_pending", "source_calls", "last_day", *WRITTEN}


def step_summary(run: dict[str, Any]) -> str:
    """One line saying what a job's run did, from its run record."""
    took = duration((run["end_time_utc"] - run["start_time_utc"]).total_seconds())
    head = f"{run['status']} in {took}"
    if run["job_name"] == "hourly_analysis":
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


def _pct(value: float | None) -> str:
    return "    n/a" if value is None else f"{value * 100:+7.2f}%"


def _fit(text: str, cells: int) -> str:
    """Cut and pad to a display width (a Korean character takes two columns)."""
    out, used = "", 0
    for char in text:
        used += width(char)
        if used > cells:
            break
        out += char
    return pad(out, cells)


def market_cap_text(position: dict) -> str:
    """The USD market cap a position's weight used, marked when it is the picks' median rather than its own (its
    own is unknown, or in another currency: a Korean holding's is in won)."""
    used = position["market_cap_used"]
    if used is None:
        return "n/a"
    own = position["market_cap"] is not None and position.get("currency") in (None, "USD")
    return f"USD {used / 1e9:,.0f}B" + ("" if own and position["market_cap"] == used else " (median)")


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
        print(f"    {marks_text(portfolio)}")
        if not portfolio["positions"]:
            print(f"(empty: {portfolio['note']})")
        for p in portfolio["positions"]:
            cap = market_cap_text(p)
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
        print(f"         {marks_text(doc)}".replace("\n    ", "\n         "))
        print(f"         {doc['valid_from']}..{doc['valid_until']}: {perf.get('status', 'pending')} through "
              f"{perf.get('through')}: portfolio {_pct(perf.get('portfolio_return'))}, "
              f"SPY {_pct(perf.get('spy_return'))}, excess {_pct(perf.get('excess_return'))}")
    print("\n=== how the daily portfolios did against SPY (finished periods, bought at the signal day's close; one a "
          "day, so they overlap), counting only those built from holdings known on their day")
    for period in (5, 10, 20):
        summary = performance_summary(storage.portfolio_history(period, 10**6))
        if not summary["finished"]:
            continue
        counted = summary["counted"]
        figures = (f"mean excess return {summary['mean_excess_return'] * 100:+.2f}% per period, beat SPY "
                   f"{summary['beat_benchmark']}/{counted} ({summary['beat_share']:.0%})" if counted else "no figure")
        print(f"{period:>2}-session portfolios: {summary['finished']:3d} finished, {counted} counted: {figures}; "
              f"{summary['lookahead']} left out (look-ahead), {summary['unchecked']} not checked")
    print("(left out: built from a holdings snapshot dated after the session: the bundled IWM and sector-fund files "
          "are issuer downloads of about 2025-11, applied to 2024-2025 sessions; QQQ/DIA/SCHD/EWY's of 2021-2022 "
          "were known, only stale. With the look-ahead ones the figures would look far better; they are not a "
          "result: GET /portfolio/history?include_lookahead=true shows them, marked)")


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
        ["adjustments", f"{storage.actions.count_documents({})} corporate action(s) (the bundled sample is "
                        "already adjusted: it has no base prices)"],
        ["quarantined", f"{storage.quarantine_count()} bar(s) with impossible prices kept out"],
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
          "the average return of every analysed stock over the same days (universe); excess = pick - universe; "
          f"a pick is the first day of a stock's run of firing days ({count(stats.get('picks'))} picks from "
          f"{count(stats.get('firing_days'))} firing days; a horizon counts the picks whose return is known)")
    if rows:
        headers = ["after", "picks", "mean", "median", "hit rate", "universe", "excess", ""]
        print(table(headers, rows, right=(1, 2, 3, 4, 5, 6)))
    else:
        print("  (no past pick has a complete horizon yet)")


def serve_api(
    storage: Storage, settings: Settings, strategy: str, today: str, past_day: str, port: int = 0, us: bool = False,
    krx: bool = True,
) -> None:
    """Serve the API on the demo's database, try a few routes of the markets it ran (and, with KRX, one AI
    analysis), then keep serving until Ctrl-C on a terminal."""
    import secrets

    import requests

    from api.app import create_app
    from lib.log import KST
    from lib.serve import start_server

    key = secrets.token_urlsafe(12)
    api_settings = settings.model_copy(update={"api_keys": SecretStr(key)})
    moment = dt.datetime.combine(dt.date.fromisoformat(today), dt.time(21, 0), tzinfo=KST)  # after the analysis
    base, stop = start_server(create_app(api_settings, storage=storage, clock=lambda: moment), port)
    print(f"\n=== the API on {base} (the clock says {moment:%Y-%m-%d %H:%M} KST; X-API-Key: {key})")
    # Only the routes of the markets this run set up: a KRX route on a US-only store answers 404/409.
    krx_tries = [
        ("/stocks?limit=5", "the universe, largest first"),
        ("/stocks/005930?days=5", "one stock: bars and indicators"),
        (f"/screener?strategy_name={strategy}", "today's picks (stored by the analysis)"),
        (f"/screener?strategy_name=golden_cross&fast=5&slow=20&date={past_day}", "custom parameters, a past day"),
        ("/strategies", "strategies and parameters"),
        ("/prompts", "LLM prompts"),
    ]
    us_tries = [("/etf/trending?period=20", "trending US ETFs"), ("/portfolio?period=5", "the ETF trend portfolio")]
    tries = [
        ("/dashboard", "the dashboard: open it in a browser"),
        ("/status", "check_db's report as JSON, every market"),
        ("/health", "is collection current, per market this install runs"),
        *(krx_tries if krx else []),
        *(us_tries if us else []),
        ("/docs", "OpenAPI"),
    ]
    for path, what in tries:
        status = requests.get(base + path, timeout=60).status_code
        print(f"  {status}  {base}{path:<72} {what}")
    if krx:
        analyse_one(base, key, strategy)
    else:
        print("\n(POST /ai/analysis analyses KRX stocks: run the demo with the KRX part to try it)")
    print(f"\nDashboard: {base}/dashboard")
    if sys.stdin.isatty():
        print(f"Serving {base} (open the dashboard, try the URLs above, or {base}/docs); Ctrl-C stops.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    else:
        print("(not on a terminal: the server stops now; run ./dev demo in a terminal to keep it serving)")
    stop()


def answer_value(name: str, value: Any) -> str:
    """One field of the model's answer for people: prices in KRW, the confidence in %, lists joined."""
    if isinstance(value, list):
        return "; ".join(map(str, value)) or "-"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if name == "confidence":
            return f"{value:.0%}"
        if name in ("support", "resistance"):
            return krw(value)
    return "-" if value is None else str(value)


def analyse_one(base: str, key: str, strategy: str) -> None:
    """One POST /ai/analysis on the strategy's first pick: the model's answer, or the setting to add."""
    import requests

    picks = requests.get(f"{base}/screener", params={"strategy_name": strategy}, timeout=60).json()
    body = {"prompt": "technical_summary", "tickers": [picks["picks"][0]["ticker"]]} if picks.get("picks") else {
        "prompt": "technical_summary", "tickers": ["005930"]}
    print(f"\nPOST {base}/ai/analysis {body}")
    answer = requests.post(f"{base}/ai/analysis", json=body, headers={"X-API-Key": key}, timeout=300)
    if answer.status_code == 200:
        result = answer.json()["results"][0]
        usage = result.get("usage") or {}
        tokens = ", ".join(f"{count(usage.get(k))} {k.removesuffix('_tokens')}" for k in
                           ("input_tokens", "output_tokens", "total_tokens") if usage.get(k) is not None)
        print(f"  {result['provider']}/{result['model']} in {count(result['latency_ms'])} ms, "
              f"tokens: {tokens or 'not reported'}")
        for name, value in (result["result"] or {}).items():
            print(f"  {pad(name, 11)} {answer_value(name, value)}")
    else:
        error = answer.json()["error"]
        print(f"  {answer.status_code} {error['code']}: {error['message']}")
        if error["code"] == "not_configured":
            print("  (set GOOGLE_API_KEY, or LLM_PROVIDER=openai with OPENAI_API_KEY, in the environment and run "
                  "./dev demo again)")


if __name__ == "__main__":
    sys.exit(main())
