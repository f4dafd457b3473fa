"""etf_pipeline: the seed's five stages on the collection spine (lib/markets/us/market.py plugs the US market in), then
the realised performance of every portfolio still running. Each stage writes idempotently (keys are the seed's
unique keys), so a batch killed anywhere and run again gives the same database; the spine marks a session
completed only after `run_stages` has returned for it.

Per batch: stages 1-2 have each ETF's bars from one request over the batch plus the sessions a 20-session
return needs before it (so every close a return uses is re-read in one answer, on one dividend-adjustment
basis); stage 3 ranks the ETFs per session and period; stage 4 refreshes the trending ETFs' holdings when older
than US_HOLDINGS_REFRESH_DAYS and fetches the bars of their top holdings (and of every stock of a portfolio
still running) once; stage 5 builds the three portfolios per session.

Every bar write that fills a hole or restates a close of a session already computed is remembered before it is
written (lib/markets/us/etf/restated.py decides which); lib/markets/us/recompute.py then computes the rows that
depend on it again, with the same stage functions in `recompute` mode (from stored data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from lib.config import Settings
from lib.log import get_logger
from lib.markets.us.etf.marks import concentration, holdings_marks
from lib.markets.us.etf.performance import realised
from lib.markets.us.etf.portfolio import Holding, StockFacts, Trending, build_portfolio, top_holdings
from lib.markets.us.etf.restated import stale_marks
from lib.markets.us.etf.trending import n_session_return, trending_table
from lib.markets.us.etf.universe import ETF_JOB, PERIODS, EtfSpec, etf_specs
from lib.markets.us.settings import us_settings
from lib.markets.us.sources import Rejected, Validated, is_foreign_listing
from lib.spine.calendar import TradingCalendar, to_utc_midnight
from lib.spine.catchup import daily_update, manual_setup
from lib.spine.chain import DayUnavailable, Delivery, Request, SourceChain
from lib.spine.market import Market
from lib.spine.runner import JobContext

log = get_logger("etf")

US_LOCK = "us_etf"

LOOKBACK_SESSIONS = max(PERIODS) + 5  # a 20-session return, and the start close of a portfolio still running
FOREIGN_STALENESS = dt.timedelta(days=7)  # a foreign listing's last close stands for a US session this long


@dataclass(frozen=True)
class EtfPlan:
    """What the pipeline follows, from the settings."""

    specs: tuple[EtfSpec, ...]
    benchmark: str
    top_n: int
    refresh_days: int
    stale_days: int = 92  # a snapshot known on the day but older than this marks the portfolio stale

    @classmethod
    def from_settings(cls, settings: Settings) -> EtfPlan:
        """The plan the settings describe."""
        us = us_settings(settings)
        specs = etf_specs(us.benchmark_etfs, us.sector_etfs)
        return cls(tuple(specs), us.benchmark, us.top_holdings, us.holdings_refresh_days, us.holdings_stale_days)

    @property
    def tickers(self) -> list[str]:
        """Every followed ETF."""
        return [s.ticker for s in self.specs]

    @property
    def by_ticker(self) -> dict[str, EtfSpec]:
        """The specs by ticker."""
        return {s.ticker: s for s in self.specs}


@dataclass
class Batch:
    """One run of the five stages over consecutive sessions."""

    ctx: JobContext
    calendar: TradingCalendar
    chain: SourceChain
    plan: EtfPlan
    window: list[dt.date]
    days: list[dt.date]  # the sessions that get stages 3-5 (every ETF delivered them)
    last_computed: dt.date | None = None  # the latest session whose stages were stored before this batch
    recompute: bool = False  # computing stored sessions again from stored data (lib/markets/us/recompute.py)
    rejected: list[Rejected] = field(default_factory=list)
    trending: dict[dt.date, dict[int, list[str]]] = field(default_factory=dict)
    trend_rows: dict[dt.date, dict[tuple[int, str], dict]] = field(default_factory=dict)  # (period, etf) -> row
    holdings: dict[str, dict[str, list[dict]]] = field(default_factory=dict)  # etf -> collected date -> rows
    stock_closes: dict[str, dict[dt.date, float]] = field(default_factory=dict)

    @property
    def storage(self) -> Any:
        """The run's storage."""
        return self.ctx.storage

    def fetch(self, request: Request) -> Delivery:
        """A request through the chain; its rejected records are kept for storage."""
        delivery = self.chain.fetch(request, self.ctx.as_of)
        validated: Validated = delivery.data
        self.rejected.extend(validated.rejected)
        return delivery


def sessions_after(calendar: TradingCalendar, day: dt.date, count: int) -> list[dt.date]:
    """The `count` sessions after `day` (fewer past the calendar's end)."""
    end = min(day + dt.timedelta(days=2 * count + 14), calendar.last)
    return calendar.sessions_between(day + dt.timedelta(days=1), end)[:count]


def fetch_window(calendar: TradingCalendar, days: Sequence[dt.date]) -> list[dt.date]:
    """The sessions a batch fetches: the lookback a 20-session return needs, one more (fetched, not stored, so
    every stored bar's day change has its previous close whichever session a batch starts from), the batch."""
    before = calendar.last_sessions(days[0], LOOKBACK_SESSIONS + 2)[:-1]
    return [*before, *calendar.sessions_between(days[0], days[-1])]


def _definitive(exc: DayUnavailable) -> bool:
    """Asking again now would not change the answer: no source failed transiently, refused us or is late."""
    return not exc.outcomes & {"transient", "blocked", "not_published"}


def _aligned(closes: dict[dt.date, float], sessions: Sequence[dt.date], foreign: bool) -> dict[dt.date, float]:
    """A foreign listing's closes on XNYS dates: its last close on or before each session (within a week); a
    US listing's closes as stored (a missing day stays missing)."""
    if not foreign:
        return closes
    known = sorted(closes)
    out: dict[dt.date, float] = {}
    i = -1
    for day in sessions:
        while i + 1 < len(known) and known[i + 1] <= day:
            i += 1
        if i >= 0 and day - known[i] <= FOREIGN_STALENESS:
            out[day] = closes[known[i]]
    return out


def _store_rejected(batch: Batch) -> None:
    if batch.rejected:
        records = [
            {"kind": r.kind, "source": r.source, "ticker": r.ticker, "date": r.date, "raw": r.raw, "reason": r.reason,
             "job": batch.ctx.job_name, **({"where": r.where} if r.where else {})}
            for r in batch.rejected
        ]
        new = batch.storage.record_rejected(records, batch.ctx.clock())
        for r in batch.rejected[:5]:
            log.warning("rejected %s %s %s from %s%s: %s", r.kind, r.ticker, r.date or "(no date)", r.source,
                        f" ({r.where})" if r.where else "", r.reason)
        batch.ctx.counters["rejected"] = batch.ctx.counters.get("rejected", 0) + new
        batch.rejected.clear()


def _mark_stale(batch: Batch, kind: str, writes: list, latest: dict[str, dt.date]) -> None:
    """Before bars are written: remember those that change rows already computed, so a kill after the write
    still leaves them to be computed again."""
    marks = stale_marks(writes, latest, batch.last_computed)
    if marks:
        batch.storage.mark_recompute((kind, ticker, day, why) for ticker, day, why in marks)


def last_computed(storage: Any) -> dt.date | None:
    """The latest session whose five stages are stored."""
    return max(storage.done_days(ETF_JOB, ("completed",)), default=None)


def _bar_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("open", "high", "low", "close", "volume", "dividends", "splits")}


# --- stages 1 and 2: ETF bars ------------------------------------------------------------------------


def store_etf_bars(batch: Batch, answers: dict[str, Delivery]) -> int:
    """Stages 1 (benchmark ETFs) and 2 (sector ETFs): each ETF's bars of the window with the day's change in
    percent against the previous session; static metadata. Returns the documents written."""
    docs: list[dict[str, Any]] = []
    for ticker, delivery in answers.items():
        validated: Validated = delivery.data
        batch.rejected.extend(validated.rejected)
        have = {r["date"]: r for r in validated.rows}
        for i, day in enumerate(batch.window[1:], start=1):
            row = have.get(day)
            if row is None:
                continue
            previous = have.get(batch.window[i - 1])
            change = (row["close"] / previous["close"] - 1) * 100 if previous else None
            docs.append({"ticker": ticker, "date": to_utc_midnight(day), **_bar_fields(row),
                         "price_change_percent": change, "source": delivery.source})
    written = batch.storage.upsert_etf_bars(docs, partial(_mark_stale, batch, "etf"))
    batch.storage.save_etf_meta([s.document() for s in batch.plan.specs])
    return written


# --- stage 3: trending -----------------------------------------------------------------------------


def identify_trending(batch: Batch) -> int:
    """Stage 3: each ETF's 5/10/20-session return against the benchmark's, per session. Returns the rows
    written."""
    closes = batch.storage.etf_closes(batch.plan.tickers, batch.window[0], batch.days[-1])
    sectors = {s.ticker: s.sector_name for s in batch.plan.specs}
    rows = []
    for day in batch.days:
        valid_from = sessions_after(batch.calendar, day, 1)
        batch.trending[day] = {}
        batch.trend_rows[day] = {}
        for period in PERIODS:
            returns = {t: n_session_return(closes.get(t, {}), batch.window, day, period) for t in batch.plan.tickers}
            table = trending_table(returns, batch.plan.benchmark, period, sectors)
            batch.trending[day][period] = [r.etf_ticker for r in table if r.is_trending]
            for r in table:
                row = {**r.as_dict(), "as_of_date": day.isoformat(),
                       "valid_from": valid_from[0].isoformat() if valid_from else None}
                batch.trend_rows[day][(period, r.etf_ticker)] = row
                rows.append(row)
    return batch.storage.save_trending(rows)


# --- stage 4: holdings and their stocks --------------------------------------------------------------


def _snapshot(batch: Batch, etf: str, day: dt.date) -> tuple[dt.date | None, list[dict]]:
    """The ETF's latest holdings collected on or before the day."""
    dates = [d for d in batch.holdings.get(etf, {}) if d <= day.isoformat()]
    if not dates:
        return None, []
    return dt.date.fromisoformat(max(dates)), batch.holdings[etf][max(dates)]


def _trending_etfs(batch: Batch, day: dt.date) -> set[str]:
    """The ETFs trending over some period on the day."""
    return {e for period in batch.trending[day].values() for e in period}


def _ensure_holdings(batch: Batch, etf: str, day: dt.date) -> None:
    collected, _ = _snapshot(batch, etf, day)
    if collected is not None and (day - collected).days < batch.plan.refresh_days:
        return
    try:
        delivery = batch.fetch(Request(etf, (day,), kind="holdings"))
    except DayUnavailable as exc:
        if collected is not None or _definitive(exc):
            log.warning("%s; %s", exc, f"using the holdings collected {collected}" if collected
                        else f"{etf} contributes no stock on {day}")
            return
        raise
    validated: Validated = delivery.data
    # The answer's refused rows before the snapshot: once it is whole, the holdings are not asked again.
    _store_rejected(batch)
    rows = [Holding(etf, r["ticker"], r["name"], r["holding_percent"]) for r in validated.rows]
    top = top_holdings(rows, batch.plan.top_n)
    as_of = validated.as_of
    # The date the holdings were known: the source's, else the day they were collected (Yahoo does not say).
    known = (as_of or batch.calendar.local_date(batch.ctx.clock())).isoformat()
    batch.storage.save_holdings(
        etf, day, [{"ticker": h.ticker, "name": h.name, "holding_percent": h.holding_percent} for h in top],
        {"source": delivery.source, "source_as_of": as_of.isoformat() if as_of else None, "holdings_as_of": known},
    )
    batch.holdings.setdefault(etf, {})[day.isoformat()] = [
        {"stock_ticker": h.ticker, "stock_name": h.name, "holding_percent": h.holding_percent,
         "holdings_as_of": known} for h in top
    ]


def _known_as_of(batch: Batch, etf: str, day: dt.date) -> dt.date | None:
    """The date the ETF's snapshot used on the day was known (None: undated, stored before dates were kept)."""
    rows = _snapshot(batch, etf, day)[1]
    text = rows[0].get("holdings_as_of") or rows[0].get("source_as_of")
    return dt.date.fromisoformat(text) if text else None


def _holdings(batch: Batch, etf: str, day: dt.date) -> list[Holding]:
    _, rows = _snapshot(batch, etf, day)
    held = [Holding(etf, r["stock_ticker"], r["stock_name"], r["holding_percent"]) for r in rows]
    return top_holdings(held, batch.plan.top_n)


def _running_stocks(batch: Batch) -> set[str]:
    daily, monthly = batch.storage.unfinished_portfolios()
    return {p["ticker"] for doc in [*daily, *monthly] for p in doc.get("positions", [])}


def _ensure_profile(batch: Batch, ticker: str, stored: dict | None) -> dict | None:
    day = batch.days[-1]
    if stored is not None and (day - dt.date.fromisoformat(stored["as_of"])).days < batch.plan.refresh_days:
        return stored
    try:
        delivery = batch.fetch(Request(ticker, (day,), kind="profile"))
    except DayUnavailable as exc:
        if stored is not None or _definitive(exc):
            log.warning("%s; %s", exc, "keeping the stored profile" if stored else "name, sector and market cap "
                        "unknown: the sector of the ETF holding it and the median market cap stand in")
            return stored
        raise
    return {**delivery.data.rows[0], "as_of": day.isoformat(), "source": delivery.source}


def _covered(closes: dict[dt.date, float], sessions: Sequence[dt.date]) -> bool:
    return all(day in closes for day in sessions)


def collect_holdings(batch: Batch) -> int:
    """Stage 4: the trending ETFs' top holdings (refreshed on an interval) and those stocks' daily history
    with sector and market cap; also the stocks of every portfolio still running, so its performance can be
    followed. Returns the stock bars written. In `recompute` mode a stock whose closes are stored for the whole
    window is not asked again, and running portfolios are left to the batches that follow them."""
    batch.holdings = batch.storage.holdings_history(batch.plan.tickers)
    for day in batch.days:
        for etf in sorted(_trending_etfs(batch, day)):
            _ensure_holdings(batch, etf, day)
    _store_rejected(batch)
    candidates: set[str] = set()
    for day in batch.days:
        for etf in _trending_etfs(batch, day):
            candidates |= {h.ticker for h in _holdings(batch, etf, day)}
    if batch.recompute:
        have = _stock_closes(batch.storage, batch.calendar, candidates, batch.window[1], batch.days[-1])
        needed = batch.calendar.sessions_between(batch.window[1], batch.days[-1])
        stocks = {t for t in candidates if not _covered(have[t], needed)}
    else:
        stocks = candidates | _running_stocks(batch)
    stored = batch.storage.stock_profiles(stocks)
    profiles = {ticker: _ensure_profile(batch, ticker, stored.get(ticker)) for ticker in sorted(stocks)}
    _store_rejected(batch)  # before the profiles: a stored profile is not asked again
    batch.storage.save_stock_profiles({t: p for t, p in profiles.items() if p is not None and p != stored.get(t)})
    docs: list[dict[str, Any]] = []
    for ticker in sorted(stocks):
        profile = profiles[ticker] or {}
        try:
            delivery = batch.fetch(Request(ticker, tuple(batch.window)))
        except DayUnavailable as exc:
            if not _definitive(exc):
                raise
            log.warning("%s; %s has no return and no performance figures until it does", exc, ticker)
            continue
        rows = delivery.data.rows
        if not rows or rows[-1]["date"] < batch.days[-1]:
            log.warning("%s %s: no bar for %s", delivery.source, ticker, batch.days[-1])
        shares = profile.get("shares_outstanding")
        for row in rows:
            cap = shares * row["close"] if shares else profile.get("market_cap")
            docs.append({
                "ticker": ticker, "date": to_utc_midnight(row["date"]), **_bar_fields(row),
                "sector": profile.get("sector"), "market_cap": cap, "currency": profile.get("currency"),
                "source": delivery.source,
            })
    _store_rejected(batch)
    written = batch.storage.upsert_stock_bars(docs, partial(_mark_stale, batch, "stock"))
    batch.stock_closes = _stock_closes(batch.storage, batch.calendar, candidates | stocks, batch.window[0],
                                       batch.days[-1])
    return written


# --- stage 5: portfolios ---------------------------------------------------------------------------


def _stock_closes(
    storage: Any, calendar: TradingCalendar, tickers: Iterable[str], start: dt.date, end: dt.date
) -> dict[str, dict[dt.date, float]]:
    """Stored stock closes on XNYS dates (a foreign listing's aligned), from start to end."""
    sessions = calendar.sessions_between(start, end)
    raw = storage.stock_closes(tickers, start - FOREIGN_STALENESS, end)
    return {t: _aligned(c, sessions, is_foreign_listing(t)) for t, c in raw.items()}


def allocate(batch: Batch) -> int:
    """Stage 5: the 5-, 10- and 20-session portfolios of each session. Returns the portfolios written."""
    meta = batch.plan.by_ticker
    held = {day: {etf: _holdings(batch, etf, day) for etf in _trending_etfs(batch, day)} for day in batch.days}
    # One read of the profiles for the whole batch: nothing in stage 5 writes them.
    profiles = batch.storage.stock_profiles({h.ticker for etfs in held.values() for top in etfs.values() for h in top})
    closes = batch.stock_closes
    docs: list[dict[str, Any]] = []
    for day in batch.days:
        trend_rows = batch.trend_rows[day]  # stage 3's rows of the day, as just stored
        holdings = held[day]
        for period in PERIODS:
            trending = [
                Trending(etf, trend_rows[(period, etf)]["outperformance"], meta[etf].sector_name, meta[etf].etf_type)
                for etf in batch.trending[day][period]
            ]
            period_tickers = {h.ticker for t in trending for h in holdings.get(t.etf, [])}
            returns = {t: n_session_return(closes.get(t, {}), batch.window, day, period) for t in period_tickers}
            facts = {}
            for ticker in period_tickers:
                profile = profiles.get(ticker) or {}
                close = closes.get(ticker, {}).get(day)
                shares = profile.get("shares_outstanding")
                cap = shares * close if shares and close else profile.get("market_cap")
                facts[ticker] = StockFacts(ticker, profile.get("name") or "", profile.get("sector"), cap,
                                           profile.get("currency"))
            benchmark_row = trend_rows.get((period, batch.plan.benchmark)) or {}
            portfolio = build_portfolio(
                period, trending, {t.etf: holdings.get(t.etf, []) for t in trending}, returns, facts,
                batch.plan.benchmark, benchmark_rated=benchmark_row.get("return_nd") is not None,
            )
            after = sessions_after(batch.calendar, day, period)
            used = {t.etf: _known_as_of(batch, t.etf, day) for t in trending if holdings.get(t.etf)}
            docs.append({
                "as_of_date": day.isoformat(),
                **portfolio.as_dict(),
                **holdings_marks(day, used, batch.plan.stale_days),
                "concentration": concentration({p.ticker: p.weight for p in portfolio.positions}),
                "benchmark": batch.plan.benchmark,
                "valid_from": after[0].isoformat() if after else None,
                "valid_until": after[-1].isoformat() if len(after) == period else None,
            })
    return batch.storage.save_portfolios(docs)


# --- realised performance --------------------------------------------------------------------------


def evaluate_performance(
    storage: Any, calendar: TradingCalendar, benchmark: str, last: dt.date, since: dt.date | None = None
) -> int:
    """Bring the realised performance of every daily and monthly portfolio not yet final up to `last` (with
    `since`, also of the final ones whose period ends on or after it: a close they used changed). Returns how
    many changed."""
    daily, monthly = storage.unfinished_portfolios(since)
    spans: list[tuple[dict, bool, list[dt.date], dict[str, float]]] = []
    for doc in daily:
        start = dt.date.fromisoformat(doc["as_of_date"])
        span = [start, *sessions_after(calendar, start, doc["period_days"])]
        spans.append((doc, False, span, {p["ticker"]: p["weight"] for p in doc.get("positions", [])}))
    for doc in monthly:
        if not doc.get("valid_until"):
            continue
        start = dt.date.fromisoformat(doc["base_session"])
        span = [start, *calendar.sessions_between(start + dt.timedelta(days=1),
                                                  dt.date.fromisoformat(doc["valid_until"]))]
        spans.append((doc, True, span, {p["ticker"]: p["final_weight"] for p in doc.get("positions", [])}))
    if not spans:
        return 0
    first = min(span[0] for _, _, span, _ in spans)
    end = max(first, min(last, max(span[-1] for _, _, span, _ in spans)))
    tickers = {t for _, _, _, weights in spans for t in weights}
    benchmarks = {doc.get("benchmark", benchmark) for doc, _, _, _ in spans}
    closes = _stock_closes(storage, calendar, tickers, first, end)
    closes.update(storage.etf_closes(benchmarks, first, end))
    results: dict[bool, dict[str, dict]] = {False: {}, True: {}}
    for doc, is_monthly, span, weights in spans:
        perf = realised(weights, closes, doc.get("benchmark", benchmark), span, last)
        results[is_monthly][doc["_id"]] = perf.as_dict()
    return storage.set_performances(False, results[False]) + storage.set_performances(True, results[True])


# --- the batch and the job -------------------------------------------------------------------------


def run_stages(
    ctx: JobContext,
    calendar: TradingCalendar,
    chain: SourceChain,
    plan: EtfPlan,
    window: list[dt.date],
    answers: dict[str, Delivery],
    complete: list[dt.date],
) -> None:
    """Stages 1-2 from the ETFs' answers, then 3-5 for the sessions every ETF delivered, then performance."""
    batch = Batch(ctx, calendar, chain, plan, window, complete, last_computed(ctx.storage))
    counters = ctx.counters
    try:
        counters["etf_bars_written"] += store_etf_bars(batch, answers)
        _store_rejected(batch)
        if not complete:
            return
        ctx.pulse()
        identify_trending(batch)
        counters["stock_bars_written"] += collect_holdings(batch)
        ctx.pulse()
        allocate(batch)
        # Through the latest stored session, not the batch's: a --redo or a healed hole of an older session
        # re-evaluates its portfolios with everything stored since.
        latest = max(ctx.storage.done_days(ETF_JOB) | {complete[-1]})
        counters["performance_updates"] += evaluate_performance(ctx.storage, calendar, plan.benchmark, latest)
    finally:
        _store_rejected(batch)


def etf_pipeline(ctx: JobContext, market: Market, redo: Sequence[dt.date] = ()) -> None:
    """The generic catch-up on the US market: the first run loads the last US_FIRST_RUN_SESSIONS sessions
    (manual_setup's window), later runs every due session not yet completed (daily_update, with --redo)."""
    if ctx.storage.done_days(market.job):
        daily_update(ctx, market, redo)
    else:
        manual_setup(ctx, market, sessions=us_settings(ctx.settings).first_run_sessions)
