"""The response models of the sector routes (api/sectors.py): returns are fractions (0.0123 = +1.23%)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.etf_models import Position


class PeriodStanding(BaseModel):
    """A sector ETF against the benchmark over N sessions on a session (stage 3's trending row)."""

    period_days: int
    return_nd: float | None = Field(description="close(t) / close(t - N sessions) - 1")
    spy_return_nd: float | None = Field(description="the benchmark's return over the same sessions")
    outperformance: float | None = Field(description="return_nd - spy_return_nd")
    rank_by_outperformance: int | None = Field(description="1 = best among every followed ETF (benchmarks too)")
    is_trending: bool = Field(description="return_nd > the benchmark's and > 0")


class MonthStanding(BaseModel):
    """A sector ETF over a rebalance month (analytics_sector_trending)."""

    month: str = Field(description="YYYY-MM, the rebalance's month")
    start_session: str = Field(description="the previous rebalance's base session (its close starts the month)")
    end_session: str = Field(description="this rebalance's base session")
    month_return: float | None
    benchmark_month_return: float | None
    outperformance: float | None = Field(description="month_return - benchmark_month_return")
    rank: int | None = Field(description="1 = best outperformance among the sector ETFs")
    is_trending: bool = Field(description="beat the benchmark with a positive return over the month")


class SectorSummary(BaseModel):
    """One sector: its ETF, its 5/10/20-session standing on the session and its latest month."""

    sector: str = Field(description="the sector name of US_SECTOR_ETFS")
    slug: str = Field(description="the sector's name for /sectors/{sector} (its ETF ticker works too)")
    etf_ticker: str
    periods: list[PeriodStanding]
    month: MonthStanding | None = Field(description="null until monthly_rebalance has stored a month")


class SectorsResponse(BaseModel):
    """Every sector on a session."""

    as_of_date: str = Field(description="the session whose closes the returns use")
    benchmark: str
    sectors: list[SectorSummary]


class TrendPoint(BaseModel):
    """The sector ETF's standing on one past session."""

    as_of_date: str
    periods: list[PeriodStanding]


class MemberHeld(Position):
    """A stock a daily portfolio of the session holds because it was picked from this sector's ETF, with its
    sector average and rank."""

    period_days: int = Field(description="the portfolio's period")


class TopHoldingFigures(BaseModel):
    """One of the ETF's top holdings (or the five together, stock_ticker TOP5) over a period."""

    period_days: int
    stock_ticker: str = Field(description="TOP5: an equal-weight basket of the holdings with every close")
    stock_name: str
    rank_position: int = Field(description="1-5 by weight in the snapshot; 0 for TOP5")
    holding_percent: float | None = Field(None, description="share of the fund, in percent")
    avg_return: float | None = Field(description="mean daily return over the period")
    total_return: float | None = Field(description="compounded return over the period")
    volatility: float | None = Field(description="sample std of daily returns x sqrt(252)")
    sharpe_ratio: float | None = Field(description="(mean daily return - rf/252) x 252 / volatility")
    risk_free_rate: float = Field(description="the annual risk-free rate used (US_RISK_FREE_RATE)")
    reason: str | None = Field(description="why figures are missing (null when complete)")
    holdings_as_of: str | None = Field(description="the date the snapshot used was known (on or before the session)")


class SectorDetail(BaseModel):
    """One sector: its trend over time, its months, the stocks held from it, its ETF's top-holdings figures."""

    sector: str
    slug: str
    etf_ticker: str
    as_of_date: str
    benchmark: str
    trend: list[TrendPoint] = Field(description="newest first")
    months: list[MonthStanding] = Field(description="newest first")
    members_held: list[MemberHeld] = Field(description="positions of the session's 5/10/20-session portfolios "
                                                       "picked from this sector's ETF")
    top_holdings_date: str | None = Field(description="the session of the top-holdings figures (null: none stored)")
    top_holdings: list[TopHoldingFigures]
