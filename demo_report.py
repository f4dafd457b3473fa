"""What the demo (demo.py) prints of the stored data, for people: the KRX store's summary and a screener's
picks with its track record; the US trending ETFs, portfolios and how they did against SPY."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lib.analysis.screener import Pick, Strategy, screen
from lib.config import Settings
from lib.display import count, pad, priced_in, table, width
from lib.markets.krx.market import krx_calendar
from lib.markets.us.etf.marks import marks_text, performance_summary
from lib.spine.calendar import TradingCalendar
from lib.storage import Storage


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
    day = storage.etf.latest_trending_day()
    if day is None:
        print("\n(no US session processed)")
        return
    print(f"\n=== trending ETFs on {day} (returns to the close of {day}; the signal holds from the next session)")
    print(f"{'ETF':<5} {'sector':<19} " + " ".join(f"{f'{n}-session':>13} {'vs SPY':>9}" for n in (5, 10, 20)))
    rows: dict[str, dict[int, dict]] = {}
    for row in storage.etf.trending_rows(day):
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
        portfolio = storage.etf.portfolio(day, period)
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
    for month in storage.etf.monthly_months():
        doc = storage.etf.monthly(month)
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
        summary = performance_summary(storage.etf.portfolio_history(period, 10**6))
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
    days = storage.jobs.day_records("daily_update")  # the KRX bars (krx.bars in lib/markets/krx)
    completed = [d for d in days if d["status"] == "completed"]
    universe = storage.universe.universe()
    active = [t for t in universe if t["is_active"]]
    tickers = storage.bars.stored_tickers()
    bars = sum(storage.stock_db[t].estimated_document_count() for t in tickers)
    print("\n=== what is stored")
    rows = [
        ["trading days", f"{len(completed)} completed ({completed[0]['date_kst']} .. {completed[-1]['date_kst']})"],
        ["stock_data", f"{len(tickers)} stocks, {count(bars)} daily bars"],
        ["target_tickers", f"{len(active)} active (market cap >= 100 billion KRW), "
                           f"{len(universe) - len(active)} inactive (data kept)"],
        ["largest five", ", ".join(f"{t['ticker']} {t['name']}" for t in active[:5])],
        ["adjustments", f"{storage.corporate_actions.actions.count_documents({})} corporate action(s) (the bundled "
                        "sample is "
                        "already adjusted: it has no base prices)"],
        ["quarantined", f"{storage.bad_data.quarantine_count()} bar(s) with impossible prices kept out"],
    ]
    for label, text in rows:
        print(f"{pad(label, 16)}{text}")


def _close_and_change(storage: Storage, ticker: str, day: dt.date, decimals: int = 0) -> tuple[str, str]:
    bars = storage.bars.read_bars(ticker, day - dt.timedelta(days=40), day)
    if not bars:
        return "-", "-"
    close = bars[-1]["close"]
    if len(bars) < 2 or not bars[-2]["close"]:
        return f"{close:,.{decimals}f}", "-"
    return f"{close:,.{decimals}f}", f"{close / bars[-2]['close'] - 1:+.2%}"


def pick_rows(storage: Storage, picks: list[Pick], names: dict[str, str], decimals: int = 0) -> list[list[str]]:
    """A table row per pick: ticker, name, close (with `decimals`: 2 for dollars), the day's change, score and why
    it fired."""
    rows = []
    for pick in picks:
        close, change = _close_and_change(storage, pick.ticker, pick.date, decimals)
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


def print_screener(storage: Storage, settings: Settings, strategy: Strategy, shown: int = 10,
                   calendar: TradingCalendar | None = None, currency: str = "KRW", label: str = "") -> None:
    """What one strategy picks on the latest analysed day of a market (KRX's unless `calendar` and the market's
    scoped `storage` are given), and how its past picks did against that market's universe."""
    with priced_in(currency):
        day, picks = screen(storage, calendar or krx_calendar(settings), strategy, strategy.params())
    print(f"\n=== {label}screener {strategy.name} on {day}: {strategy.description}")
    print(f"score = {strategy.score_meaning} (each strategy has its own scale; larger is stronger)")
    names = {t["ticker"]: t["name"] for t in storage.universe.universe()}
    if picks:
        headers = ["ticker", "name", f"close {currency}", "day", "score", "why it fired"]
        rows = pick_rows(storage, picks[:shown], names, 0 if currency == "KRW" else 2)
        print(table(headers, rows, right=(2, 3, 4)))
        if len(picks) > shown:
            print(f"  ... and {len(picks) - shown} more")
    else:
        print("  (no stock fires on this day)")
    stats = storage.analysis.strategy_stats(strategy.name) or {}
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
