"""The response models of the AI predictions routes (api/predictions.py): probabilities and rates are fractions
0..1, returns are fractions (0.012 = +1.2 %), costs in USD, times UTC."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from api.types import UtcDateTime


class Interval(BaseModel):
    """A 95% day-block bootstrap interval of a score."""

    low: float
    high: float


class CalibrationBin(BaseModel):
    """Predictions with probability in [low, high): their mean probability against how often they came true."""

    low: float
    high: float
    count: int
    mean_probability: float | None = Field(description="null when the bin is empty")
    frequency: float | None = Field(description="the share that beat the median; null when the bin is empty")


class LeaderboardRow(BaseModel):
    """One model x prompt x horizon over one window: counts, scores with their intervals, cost, rank."""

    model_ref: str = Field(description="provider:model")
    prompt: str = Field(description="the prompt's name")
    prompt_version: str | None = Field(description="its version: two versions of a prompt are two rows")
    horizon: int = Field(description="sessions after the prediction day the outcome is measured at")
    window_days: int = Field(description="calendar days back from through_day; 0: everything")
    asked: int = Field(description="prediction documents (every stock the model was asked about)")
    answered: int = Field(description="answered (status ok)")
    parsed: int = Field(description="answered in the prompt's shape")
    scored: int = Field(description="predictions whose outcome is known, made on time and after the model's "
                                    "knowledge cutoff")
    late: int = Field(description="made after the next session opened: counted, never scored")
    memorised: int = Field(description="for a day before the model's knowledge cutoff: counted, never scored")
    waiting: int = Field(description="answered and scorable, the outcome not known yet")
    unpriced: int = Field(description="the stock had no stored close to measure the outcome: not scored")
    coverage: float | None = Field(description="answered / asked")
    parse_rate: float | None = Field(description="parsed / asked")
    accuracy: float | None = Field(description="share of calls (probability >= 0.5 = beats) that were right")
    balanced_accuracy: float | None = Field(description="mean of the hit rates on beats and on misses (0.5: no skill)")
    majority_accuracy: float | None = Field(description="accuracy of always calling the more frequent outcome")
    base_rate: float | None = Field(description="the share of scored predictions that beat the median")
    brier: float | None = Field(description="mean squared error of the probability (0 perfect, 0.25 a constant 0.5)")
    climatology_brier: float | None = Field(description="the Brier of always saying the base rate")
    brier_skill: float | None = Field(description="1 - brier / climatology_brier: 0 no better than the base rate, 1 "
                                                  "perfect, below 0 worse")
    ic_mean: float | None = Field(description="mean daily Spearman rank correlation of probability and excess return")
    ic_std: float | None = None
    icir: float | None = Field(description="ic_mean / ic_std (per day, not annualised)")
    ic_days: int | None = Field(description="days with an IC (at least 3 stocks, not all equal probabilities)")
    top_k: int | None = Field(description="how many top probabilities per day top_k_excess averages")
    top_k_excess: float | None = Field(description="mean daily excess return of the top_k probabilities, a fraction")
    tokens_per_scored_call: float | None = Field(
        description="input + output tokens of every call in the window (failed and late ones too) per scored "
                    "prediction; null when a model reported no token usage")
    cost_per_scored_call_usd: float | None = Field(
        description="USD of every call in the window per scored prediction; null when a call's cost is unknown (the "
                    "model has no price in AI_MODEL_PRICES)")
    intervals: dict[str, Interval] = Field(
        description="95% day-block bootstrap intervals by score name (accuracy, balanced_accuracy, brier, "
                    "brier_skill, ic_mean, top_k_excess); a score most resamples cannot compute has none")
    calibration: list[CalibrationBin]
    ranked: bool = Field(description="scored >= AI_LEADERBOARD_MIN_COUNT")
    rank: int | None = Field(description="1 = best Brier skill among the ranked rows of its window and horizon")
    unranked_why: str | None = Field(description="why the row is not ranked; null when it is")
    from_day: dt.date | None = Field(description="the first prediction day in the window")
    through_day: dt.date | None = Field(description="the last prediction day the window counts (the newest scored at "
                                                    "this horizon)")
    computed_utc: UtcDateTime


class Leaderboard(BaseModel):
    """The stored leaderboard (ai_evaluate.py computes it), filtered; ranked rows first by rank."""

    rows: list[LeaderboardRow]
    count: int
    windows: list[int] = Field(description="the windows computed (AI_LEADERBOARD_WINDOWS), in days; 0: everything")
    prompts: list[str] = Field(description="the prompts the stored rows are of")
    min_count: int = Field(description="AI_LEADERBOARD_MIN_COUNT: scored predictions a row needs to be ranked")
    computed_utc: UtcDateTime | None = Field(description="when ai_evaluate.py last computed it; null before")
    empty_why: str | None = Field(description="why there is no row; null when there are rows")


class Outcome(BaseModel):
    """What happened over the horizon (ai_evaluate.py stores it once the end session is collected)."""

    end_day: dt.date = Field(description="the session the forward return runs to")
    forward_return: float = Field(description="the stock's close-to-close return, a fraction")
    median_return: float = Field(description="the universe's median return over the same sessions")
    excess_return: float = Field(description="forward_return - median_return")
    beat: bool = Field(description="forward_return > median_return")
    universe: int | None = Field(description="stocks the median is over")
    scored_utc: UtcDateTime | None = None


class HorizonCall(BaseModel):
    """The model's call for one horizon, and its outcome when known."""

    horizon: int = Field(description="sessions after the prediction day")
    probability: float | None = Field(description="P(the stock beats the universe's median return), 0..1")
    direction: Literal["up", "down"] | None
    reason: str | None = Field(description="the model's one line, as text")
    citations: list[str] = Field(description="the context ids the reason cites")
    state: Literal["scored", "waiting", "not scored"] = Field(
        description="scored: the outcome is stored; waiting: the end session has not been collected and scored yet; "
                    "not scored: the prediction is late, memorised or failed")
    end_day: dt.date | None = Field(description="the session the outcome is measured at (null past the calendar)")
    outcome: Outcome | None = Field(description="null until stored")


class PredictionUsage(BaseModel):
    """Tokens the provider reported for the prediction's calls."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class Prediction(BaseModel):
    """One model's prediction for one stock and day, with its outcomes when known."""

    id: str
    day: dt.date = Field(description="the session predicted from (its data's cutoff)")
    market: str | None = None
    ticker: str
    model_ref: str = Field(description="provider:model")
    prompt: str
    prompt_version: str | None = None
    status: Literal["ok", "failed"]
    error: str | None = None
    parse_ok: bool | None = None
    late: bool = Field(description="made after the next session opened: never scored")
    memorised: bool = Field(description="the day is before the model's knowledge cutoff: never scored")
    made_utc: UtcDateTime | None = None
    deadline_utc: UtcDateTime | None = Field(None, description="the next session's open")
    input_digest: str | None = Field(None, description="the same for every model asked about this stock and day")
    context_ids: list[str] = Field(description="the context items the model was given")
    usage: PredictionUsage
    cost_usd: float | None = Field(None, description="null when the model's price is not set (AI_MODEL_PRICES)")
    latency_ms: int | None = None
    horizons: list[HorizonCall] = Field(description="5, 10 and 20 sessions; empty for a failed prediction")


class PredictionList(BaseModel):
    """Predictions, newest day first."""

    predictions: list[Prediction]
    count: int
    limit: int
    more: bool = Field(description="more predictions match than `limit`")
