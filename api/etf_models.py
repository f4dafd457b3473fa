"""The response models of the US ETF routes (api/etf.py): returns are fractions, holding_percent in percent."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


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
    # Its standing in its sector (lib/markets/us/etf/sectors.py); absent on portfolios stored before it was kept.
    sector_peers: list[str] = Field(default_factory=list, description="the stocks of its sector it is ranked among: "
                                    "the top holdings of the session's trending ETFs known on the day, and itself")
    return_5d: float | None = None
    sector_avg_5d: float | None = Field(None, description="mean 5-session return of sector_peers that have one")
    rank_5d: int | None = Field(None, description="its rank by 5-session return among sector_peers, 1 = best")
    sector_size_5d: int | None = Field(None, description="sector_peers with a 5-session return")
    return_10d: float | None = None
    sector_avg_10d: float | None = None
    rank_10d: int | None = None
    sector_size_10d: int | None = None
    return_20d: float | None = None
    sector_avg_20d: float | None = None
    rank_20d: int | None = None
    sector_size_20d: int | None = None


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
