"""The US ETF trend portfolio over HTTP: trending ETFs, an ETF's top holdings, the daily 5/10/20-session
portfolios and the monthly one, each with its realised performance against SPY. The routes read what
etf_pipeline.py and monthly_rebalance.py stored; nothing is recomputed per request.

Returns are fractions (0.0123 = +1.23%), holding_percent is in percent, a position's market_cap in its `currency`
(market_cap_used in USD)."""

from __future__ import annotations

import datetime as dt
from enum import IntEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from api.deps import SettingsDep, StorageDep, read_access
from api.errors import ErrorBody, error_responses
from api.types import IsoDate
from lib.config import Settings
from lib.errors import ConfigError
from lib.markets.us import us_calendar

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


class Performance(BaseModel):
    """How a portfolio did from the close of its start session (status final once its period is over)."""

    status: Literal["final", "open", "pending", "incomplete"]
    start: str = Field(description="the session whose close the portfolio starts from")
    end: str = Field(description="the last session of the period it is meant for")
    through: str | None = Field(description="the last session the figures include")
    sessions: int = Field(description="sessions held so far")
    portfolio_return: float | None = Field(description="weighted return over start..through, a fraction")
    spy_return: float | None = Field(description="the benchmark's return over the same sessions, a fraction")
    excess_return: float | None = Field(description="portfolio_return - spy_return")
    missing: list[str] = Field(description="tickers whose close is missing, when incomplete")


class TrendingEtf(BaseModel):
    """One ETF's row of the trending table."""

    etf_ticker: str
    sector_name: str
    return_nd: float | None = Field(description="close(t) / close(t - N sessions) - 1")
    spy_return_nd: float | None
    outperformance: float | None = Field(description="return_nd - spy_return_nd")
    rank_by_outperformance: int | None
    is_trending: bool = Field(description="return_nd > SPY's and > 0")


class TrendingResponse(BaseModel):
    """The trending table of a session and period."""

    as_of_date: str = Field(description="the session whose close the returns use")
    valid_from: str | None = Field(description="the first session the signal can be acted on")
    period_days: int
    trending: list[str]
    etfs: list[TrendingEtf]


class HoldingRow(BaseModel):
    """One of an ETF's top holdings."""

    rank: int
    stock_ticker: str
    stock_name: str
    holding_percent: float = Field(description="share of the fund, in percent")


class HoldingsResponse(BaseModel):
    """An ETF's top holdings as collected on a day."""

    etf_ticker: str
    collected_date: str
    source: str
    source_as_of: str | None = Field(description="the date the source says the holdings are as of, if it says")
    holdings: list[HoldingRow]


class Position(BaseModel):
    """One stock of a daily portfolio."""

    rank: int
    ticker: str
    name: str
    sector: str | None
    weight: float = Field(description="fraction of the portfolio; the weights sum to 1")
    return_nd: float = Field(description="the stock's return over the period, a fraction")
    market_cap: float | None = Field(description="the stock's own market cap, in `currency`")
    currency: str | None = Field(default=None, description="the currency of market_cap (KRW for a Korean holding)")
    market_cap_used: float | None = Field(
        description="the USD market cap the weight used: the stock's own, or the picks' median when that is "
                    "unknown or not in USD"
    )
    source_etfs: list[str]
    allocation_reason: str


class Excluded(BaseModel):
    """A trending ETF that gave the portfolio no position, and why."""

    etf: str
    ticker: str | None
    reason: str


class PortfolioResponse(BaseModel):
    """A daily model portfolio."""

    as_of_date: str
    period_days: int
    benchmark: str
    valid_from: str | None
    valid_until: str | None
    positions: list[Position]
    excluded: list[Excluded]
    note: str = Field(description="why the portfolio is empty, when it is")
    performance: Performance | None = Field(default=None, description="null until etf_pipeline has evaluated it")


class MonthlyPosition(BaseModel):
    """One stock of the monthly portfolio."""

    ticker: str
    name: str
    sector: str | None
    score: float
    final_rank: int
    final_weight: float
    source_periods: list[int]


class MonthlyResponse(BaseModel):
    """The merged portfolio of a month."""

    month: str
    rebalance_date: str
    base_session: str = Field(description="the session whose daily portfolios were merged")
    valid_from: str | None
    valid_until: str | None
    benchmark: str
    positions: list[MonthlyPosition]
    note: str
    performance: Performance | None = Field(default=None, description="null until it has been evaluated")


class PastPortfolio(BaseModel):
    """One past portfolio and how it did."""

    as_of_date: str = Field(description="the session it was built on (monthly: the session whose portfolios it merged)")
    month: str | None = Field(None, description="YYYY-MM, for a monthly portfolio")
    valid_from: str | None
    valid_until: str | None
    positions: int = Field(description="number of stocks held")
    performance: Performance | None


class PortfolioHistory(BaseModel):
    """Past portfolios of a period, newest first, each with its realised return against the benchmark."""

    period: str = Field(description="5, 10, 20 (daily portfolios) or monthly")
    benchmark: str
    items: list[PastPortfolio]


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
    day = date or storage.latest_trending_day()
    rows = storage.trending_rows(day, int(period)) if day else []
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
    followed = list(dict.fromkeys([*settings.us_benchmark_etfs, *settings.us_sector_etfs]))
    if etf not in followed:
        raise HTTPException(status_code=404, detail=f"{etf} is not a followed ETF ({', '.join(followed)})")
    collected, rows = storage.holdings_on(etf, date or dt.date.max)
    if collected is None:
        raise HTTPException(status_code=404, detail=f"no holdings collected for {etf} by {date or 'now'}: "
                            "holdings are collected only for ETFs that trend")
    return {
        "etf_ticker": etf,
        "collected_date": collected.isoformat(),
        "source": rows[0].get("source", ""),
        "source_as_of": rows[0].get("source_as_of"),
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
    day = date or storage.latest_portfolio_day(int(period))
    doc = storage.portfolio(day, int(period)) if day else None
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
) -> dict:
    """How each past portfolio of a period did against SPY over the sessions it was meant for (an empty list
    before etf_pipeline has built one)."""
    if period == "monthly":
        docs = [{**d, "as_of_date": d.get("base_session")} for d in storage.monthly_history(limit)]
    else:
        docs = storage.portfolio_history(int(period), limit)
    items = [{**d, "positions": len(d.get("positions") or []), "performance": d.get("performance")} for d in docs]
    benchmark = docs[0].get("benchmark") if docs else settings.us_benchmark
    return {"period": period, "benchmark": benchmark, "items": items}


@router.get("/portfolio/monthly", response_model=MonthlyResponse, responses={**NOT_FOUND, **NO_DB, 422: BAD_DATE[422]})
def monthly(
    storage: StorageDep,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM; default: the latest")]
    = None,
) -> dict:
    """The month's merged portfolio (from its last Sunday, for the next 20 sessions) with its performance."""
    doc = storage.monthly(month)
    if doc is None:
        raise HTTPException(status_code=404, detail=f"no monthly portfolio for {month or 'any month'}: "
                            "monthly_rebalance has not run for it")
    return doc
