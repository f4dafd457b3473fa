"""Stage 4 of the US ETF pipeline: the trending ETFs' top holdings (refreshed on an interval), those stocks'
profiles (sector, market cap) and daily bars; also the stocks of every portfolio still running."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial
from typing import Any

from lib.log import get_logger
from lib.markets.us.batch import Batch, _bar_fields, _definitive, _mark_stale, _stock_closes, _store_rejected
from lib.markets.us.etf.portfolio import Holding, top_holdings
from lib.markets.us.sources import Validated
from lib.spine.chain import DayUnavailable, Request
from lib.storage.dates import to_utc_midnight

log = get_logger("etf")


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
    batch.storage.etf.save_holdings(
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
    daily, monthly = batch.storage.etf.unfinished_portfolios()
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
    batch.holdings = batch.storage.etf.holdings_history(batch.plan.tickers)
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
    stored = batch.storage.etf.stock_profiles(stocks)
    profiles = {ticker: _ensure_profile(batch, ticker, stored.get(ticker)) for ticker in sorted(stocks)}
    _store_rejected(batch)  # before the profiles: a stored profile is not asked again
    batch.storage.etf.save_stock_profiles({t: p for t, p in profiles.items() if p is not None and p != stored.get(t)})
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
    written = batch.storage.etf.upsert_stock_bars(docs, partial(_mark_stale, batch, "stock"))
    batch.stock_closes = _stock_closes(batch.storage, batch.calendar, candidates | stocks, batch.window[0],
                                       batch.days[-1])
    return written
