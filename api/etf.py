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
from pydantic import BaseModel, Field

from api.deps import SettingsDep, StorageDep, read_access
from api.errors import ErrorBody, error_responses
from api.types import IsoDate
from lib.config import Settings
from lib.errors import ConfigError
from lib.etf.marks import performance_summary
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


class SnapshotUsed(BaseModel):
    """The holdings snapshot of one trending ETF a portfolio was picked from."""

    etf: str
    as_of: str | None = Field(description="the date the snapshot was known (the source's date, else the day it was "
                                          "collected); null: undated")
    age_days: int | None = Field(description="days from as_of to the portfolio's session; negative: dated after it")


class Concentration(BaseModel):
    """How concentrated a portfolio is (the seed's 1/market-cap weight puts most on the smallest company)."""

    largest_weight: float | None = Field(description="the largest position's weight, a fraction; null when empty")
    largest_ticker: str | None
    effective_holdings: float | None = Field(
        description="1 / sum of squared weights: n for n equal weights, near 1 when one stock carries everything")
    positions: int


class PointInTime(BaseModel):
    """Whether the holdings a portfolio was picked from were known on its session."""

    holdings_known: bool | None = Field(
        default=None, description="true: every snapshot used is dated on or before the session; false: one is dated "
        "after it or undated (look-ahead: not a result, left out of the performance summary by default); null: "
        "stored before portfolios were marked (`etf_pipeline.py --redo DATE` marks it)")
    holdings_as_of: str | None = Field(default=None, description="the newest snapshot date used")
    holdings_stale: bool | None = Field(
        default=None, description="known on the day, but a snapshot used is older than US_HOLDINGS_STALE_DAYS")
    concentration: Concentration | None = Field(default=None, description="null when stored before it was computed")


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
    holdings_as_of: str | None = Field(
        description="the date they were known: source_as_of, else the day they were collected; null if not stored")
    holdings_known: bool | None = Field(
        description="holdings_as_of is on or before the date asked (default: collected_date); false: look-ahead")
    age_days: int | None = Field(description="days from holdings_as_of to that date")
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


class PortfolioResponse(PointInTime):
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
    holdings_snapshots: list[SnapshotUsed] = Field(
        default_factory=list, description="the snapshot of each trending ETF of the period the picks came from")


class MonthlyPosition(BaseModel):
    """One stock of the monthly portfolio."""

    ticker: str
    name: str
    sector: str | None
    score: float
    final_rank: int
    final_weight: float
    source_periods: list[int]


class MonthlyResponse(PointInTime):
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
    holdings_snapshots: list[SnapshotUsed] = Field(
        default_factory=list, description="the snapshots of the three daily portfolios it merged")


class PastPortfolio(PointInTime):
    """One past portfolio and how it did."""

    as_of_date: str = Field(description="the session it was built on (monthly: the session whose portfolios it merged)")
    month: str | None = Field(None, description="YYYY-MM, for a monthly portfolio")
    valid_from: str | None
    valid_until: str | None
    positions: int = Field(description="number of stocks held")
    performance: Performance | None


class PerformanceSummary(BaseModel):
    """How the finished portfolios among the newest `limit` did against the benchmark."""

    finished: int = Field(description="finished portfolios among the newest `limit`")
    counted: int = Field(description="those summarised: built from holdings known on their day, unless "
                                     "include_lookahead")
    includes_lookahead: bool = Field(description="true: the figures include look-ahead portfolios (not a result)")
    lookahead: int = Field(description="finished ones built from holdings dated after their session (or undated)")
    unchecked: int = Field(description="finished ones stored before portfolios were marked")
    mean_excess_return: float | None = Field(description="mean of portfolio - benchmark return, a fraction")
    beat_benchmark: int = Field(description="how many of those counted beat the benchmark")
    beat_share: float | None = Field(description="beat_benchmark / counted")


class PortfolioHistory(BaseModel):
    """Past portfolios of a period, newest first, each with its realised return against the benchmark."""

    period: str = Field(description="5, 10, 20 (daily portfolios) or monthly")
    benchmark: str
    include_lookahead: bool = Field(description="whether look-ahead portfolios are listed and summarised")
    left_out: int = Field(description="portfolios among the newest `limit` not listed: built from holdings not "
                                      "known on their day, or not checked (include_lookahead=true lists them)")
    summary: PerformanceSummary
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
    include_lookahead: Annotated[bool, Query(
        description="also list and summarise the portfolios built from holdings not known on their day (dated "
                    "after the session, or not checked): look-ahead, not a result")] = False,
) -> dict:
    """How each past portfolio of a period did against SPY over the sessions it was meant for (an empty list
    before etf_pipeline has built one), and a summary of the finished ones; by default only portfolios built
    from holdings known on their day are listed and summarised."""
    if period == "monthly":
        docs = [{**d, "as_of_date": d.get("base_session")} for d in storage.monthly_history(limit)]
    else:
        docs = storage.portfolio_history(int(period), limit)
    listed = docs if include_lookahead else [d for d in docs if d.get("holdings_known") is True]
    items = [{**d, "positions": len(d.get("positions") or []), "performance": d.get("performance")} for d in listed]
    benchmark = docs[0].get("benchmark") if docs else settings.us_benchmark
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
    doc = storage.monthly(month)
    if doc is None:
        raise HTTPException(status_code=404, detail=f"no monthly portfolio for {month or 'any month'}: "
                            "monthly_rebalance has not run for it")
    return doc
