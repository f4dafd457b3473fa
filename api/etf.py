"""The US ETF trend portfolio over HTTP: trending ETFs, an ETF's top holdings, the daily 5/10/20-session
portfolios and the monthly one, each with its realised performance against SPY. The routes read what
etf_pipeline.py and monthly_rebalance.py stored; nothing is recomputed per request.

Returns are fractions (0.0123 = +1.23%), holding_percent is in percent, a position's market_cap in its `currency`
(market_cap_used in USD). Every portfolio says whether the holdings it was picked from were known on its session
(`holdings_known`; one built from a snapshot dated after it is look-ahead, not a result) and how concentrated it
is; the history's summary counts only the portfolios known on their day unless `include_lookahead=true`."""

from __future__ import annotations

import datetime as dt
from enum import IntEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from api.deps import SettingsDep, StorageDep, read_access
from api.errors import ErrorBody, error_responses
from api.etf_models import HoldingsResponse, MonthlyResponse, PortfolioHistory, PortfolioResponse, TrendingResponse
from api.types import IsoDate
from lib.config import Settings
from lib.errors import ConfigError
from lib.markets.us.etf.marks import performance_summary
from lib.markets.us.market import us_calendar
from lib.markets.us.settings import us_settings

router = APIRouter(tags=["etf"], dependencies=[Depends(read_access)])

class Period(IntEnum):
    """The portfolio periods, in sessions."""

    five = 5
    ten = 10
    twenty = 20


NOT_FOUND = {404: {"model": ErrorBody, "description": "nothing stored for this request yet (the message says what)"}}
BAD_DATE = {422: {"model": ErrorBody,
                  "description": "a malformed parameter, or a date that is not a New York Stock Exchange trading day"}}
NO_DB = {
    **error_responses(401),
    503: {"model": ErrorBody, "description": "MONGODB_URI is not set, or the database is not reachable"},
}


def _session(settings: Settings, day: dt.date | None) -> None:
    if day is None:
        return
    try:
        if not us_calendar(settings).is_session(day):
            raise HTTPException(status_code=422, detail=f"{day} is not a New York Stock Exchange (XNYS) trading day")
    except ConfigError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


DateQuery = Annotated[IsoDate | None, Query(
    description="a New York Stock Exchange (XNYS) trading day (New York date), YYYY-MM-DD; default: the latest")]


@router.get("/etf/trending", response_model=TrendingResponse, responses={**NOT_FOUND, **BAD_DATE, **NO_DB})
def trending(
    storage: StorageDep,
    settings: SettingsDep,
    period: Annotated[Period, Query(description="return period in sessions: 5, 10 or 20")] = Period.twenty,
    date: DateQuery = None,
) -> dict:
    """Every followed ETF's N-session return against SPY's on a session, best outperformance first."""
    _session(settings, date)
    day = date or storage.etf.latest_trending_day()
    rows = storage.etf.trending_rows(day, int(period)) if day else []
    if not rows:
        raise HTTPException(status_code=404, detail=f"no trending table for {date or 'any day'}: "
                            "etf_pipeline has not processed it")
    return {
        "as_of_date": day.isoformat(),  # type: ignore[union-attr]
        "valid_from": rows[0].get("valid_from"),
        "period_days": int(period),
        "trending": [r["etf_ticker"] for r in rows if r["is_trending"]],
        "etfs": rows,
    }


@router.get("/etf/{ticker}/holdings", response_model=HoldingsResponse, responses={**NOT_FOUND, **BAD_DATE, **NO_DB})
def holdings(
    storage: StorageDep,
    settings: SettingsDep,
    ticker: Annotated[str, Path(pattern=r"^[A-Za-z0-9.\-]{1,10}$", description="a followed ETF, e.g. XLF")],
    date: DateQuery = None,
) -> dict:
    """The ETF's top holdings as last collected on or before the date (holdings are collected for trending
    ETFs, refreshed every US_HOLDINGS_REFRESH_DAYS days)."""
    _session(settings, date)
    etf = ticker.upper()
    us = us_settings(settings)
    followed = list(dict.fromkeys([*us.benchmark_etfs, *us.sector_etfs]))
    if etf not in followed:
        raise HTTPException(status_code=404, detail=f"{etf} is not a followed ETF ({', '.join(followed)})")
    collected, rows = storage.etf.holdings_on(etf, date or dt.date.max)
    if collected is None:
        raise HTTPException(status_code=404, detail=f"no holdings collected for {etf} by {date or 'now'}: "
                            "holdings are collected only for ETFs that trend")
    known = rows[0].get("holdings_as_of") or rows[0].get("source_as_of")
    age = ((date or collected) - dt.date.fromisoformat(known)).days if known else None
    return {
        "etf_ticker": etf,
        "collected_date": collected.isoformat(),
        "source": rows[0].get("source", ""),
        "source_as_of": rows[0].get("source_as_of"),
        "holdings_as_of": known,
        "holdings_known": None if age is None else age >= 0,
        "age_days": age,
        "holdings": rows,
    }


@router.get("/portfolio", response_model=PortfolioResponse, responses={**NOT_FOUND, **BAD_DATE, **NO_DB})
def portfolio(
    storage: StorageDep,
    settings: SettingsDep,
    period: Annotated[Period, Query(description="the portfolio's period in sessions: 5, 10 or 20")] = Period.twenty,
    date: DateQuery = None,
) -> dict:
    """The daily model portfolio of a period on a session, with its realised performance against SPY."""
    _session(settings, date)
    day = date or storage.etf.latest_portfolio_day(int(period))
    doc = storage.etf.portfolio(day, int(period)) if day else None
    if doc is None:
        raise HTTPException(status_code=404, detail=f"no {int(period)}-session portfolio for {date or 'any day'}: "
                            "etf_pipeline has not processed it")
    return doc


@router.get("/portfolio/history", response_model=PortfolioHistory, responses={**NO_DB, 422: BAD_DATE[422]})
def history(
    storage: StorageDep,
    settings: SettingsDep,
    period: Annotated[Literal["5", "10", "20", "monthly"], Query(description="5, 10, 20 or monthly")] = "20",
    limit: Annotated[int, Query(ge=1, le=500, description="portfolios, newest first")] = 120,
    include_lookahead: Annotated[bool, Query(
        description="also list and summarise the portfolios built from holdings not known on their day (dated "
                    "after the session, or not checked): look-ahead, not a result")] = False,
) -> dict:
    """How each past portfolio of a period did against SPY over the sessions it was meant for (an empty list
    before etf_pipeline has built one), and a summary of the finished ones; by default only portfolios built
    from holdings known on their day are listed and summarised."""
    if period == "monthly":
        docs = [{**d, "as_of_date": d.get("base_session")} for d in storage.etf.monthly_history(limit)]
    else:
        docs = storage.etf.portfolio_history(int(period), limit)
    listed = docs if include_lookahead else [d for d in docs if d.get("holdings_known") is True]
    items = [{**d, "positions": len(d.get("positions") or []), "performance": d.get("performance")} for d in listed]
    benchmark = docs[0].get("benchmark") if docs else us_settings(settings).benchmark
    return {"period": period, "benchmark": benchmark, "include_lookahead": include_lookahead,
            "left_out": len(docs) - len(listed), "summary": performance_summary(docs, include_lookahead),
            "items": items}


@router.get("/portfolio/monthly", response_model=MonthlyResponse, responses={**NOT_FOUND, **NO_DB, 422: BAD_DATE[422]})
def monthly(
    storage: StorageDep,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM; default: the latest")]
    = None,
) -> dict:
    """The month's merged portfolio (from its last Sunday, for the next 20 sessions) with its performance."""
    doc = storage.etf.monthly(month)
    if doc is None:
        raise HTTPException(status_code=404, detail=f"no monthly portfolio for {month or 'any month'}: "
                            "monthly_rebalance has not run for it")
    return doc
