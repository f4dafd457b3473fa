"""The response models of the strategy and screener routes (api/screener.py)."""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.markets import LISTED


class HorizonStats(BaseModel):
    """Forward returns of past picks over one horizon (traded sessions)."""

    count: int
    mean: float | None = None
    median: float | None = None
    hit_rate: float | None = Field(None, description="share of picks with a return above zero")
    universe_mean: float | None = Field(None, description="average return of every analysed stock, same days")
    excess_mean: float | None = Field(None, description="mean minus universe_mean")


class TrackRecord(BaseModel):
    """How a strategy's past picks did, counting only returns known on `as_of_date`."""

    model_config = ConfigDict(extra="ignore")

    as_of_date: str | None = None
    picks: int = Field(
        description="past picks counted: one per episode (the first day of a run of consecutive firing days of a "
        "stock), so a 'within N days' signal is not counted N times"
    )
    firing_days: int | None = Field(None, description="past (stock, day) pairs that fired, every day of an episode")
    horizons: dict[str, HorizonStats]


class StrategyInfo(BaseModel):
    """A registered strategy."""

    name: str
    description: str
    score_meaning: str = Field(description="what a pick's score measures, with its unit (each strategy's own scale)")
    lookback_sessions: int = Field(description="sessions of history one day's picks read")
    columns: list[str] = Field(description="values shown with each pick")
    params_schema: dict[str, Any] = Field(description="JSON schema of the parameters (defaults and bounds)")
    track_record: TrackRecord | None = Field(None, description="default parameters, as of the latest analysed day")


class SkippedPlugin(BaseModel):
    """A plugin module that failed to load."""

    module: str
    error: str


class StrategyList(BaseModel):
    """Every registered strategy, and the modules that were skipped."""

    market: str = Field("krx", description="the market whose stocks the track records are on (`market=`)")
    strategies: list[StrategyInfo]
    skipped: list[SkippedPlugin]


class PickOut(BaseModel):
    """A stock a strategy picked."""

    ticker: str
    name: str | None = None
    market: str | None = Field(None, description=LISTED)
    score: float = Field(description="strength of the signal; larger is stronger (the result's score_meaning says what "
                                     "it measures)")
    values: dict[str, float | None] = Field(description="the strategy's columns on the day")
    reason: str
    change: float | None = Field(
        None, description="the day's close against the stock's previous traded close, a fraction (0.012 = +1.2%)"
    )


class ScreenerResult(BaseModel):
    """The picks of one strategy on one day."""

    strategy: str
    market: str = Field("krx", description="the market screened (`market=`): krx, us")
    currency: str | None = Field(None, description="the currency of the market's prices (KRW, USD): what a pick's "
                                                   "price values are in")
    description: str
    score_meaning: str = Field(description="what each pick's score measures, with its unit (larger is stronger)")
    date: dt.date
    params: dict[str, Any]
    source: str = Field(description="stored: precomputed by the analysis job; computed: for these parameters")
    count: int
    picks: list[PickOut]
    track_record: TrackRecord
