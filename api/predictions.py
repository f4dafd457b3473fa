"""GET /ai/leaderboard (which model and prompt call stocks best, measured on outcomes) and GET /ai/predictions
(each stored prediction with its outcome when known). Both only read what ai_predict.py and ai_evaluate.py
stored (storage.predictions); nothing is recomputed per request."""

from __future__ import annotations

import datetime as dt
from enum import IntEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import CalendarDep, SettingsDep, StorageDep, read_access
from api.errors import ApiError, error_responses, not_found
from api.predictions_models import (
    CalibrationBin,
    HorizonCall,
    Interval,
    Leaderboard,
    LeaderboardRow,
    Outcome,
    Prediction,
    PredictionList,
)
from api.stocks import TICKER_PATTERN
from api.types import IsoDate
from lib.ai.evaluate import end_session
from lib.config import Settings
from lib.config_predict import HORIZONS
from lib.errors import ConfigError
from lib.markets.us.market import us_calendar
from lib.spine.calendar import TradingCalendar
from lib.storage import Storage

router = APIRouter(tags=["ai"], dependencies=[Depends(read_access)])
MODEL_REF_PATTERN = r"^(gemini|openai):[A-Za-z0-9][A-Za-z0-9._/@-]{0,99}$"
PROMPT_PATTERN = r"^[A-Za-z0-9_.:-]{1,100}$"
US_MARKETS = {"us", "US", "XNYS", "NYSE", "NASDAQ", "ARCA"}


class Horizon(IntEnum):
    """The horizons predictions are about, in sessions."""

    five = 5
    ten = 10
    twenty = 20


def _empty_why(storage: Storage, settings: Settings, rows_stored: bool, filters: dict[str, Any]) -> str:
    """Why the leaderboard has no row: nothing configured, nothing predicted, nothing scored, or the filters."""
    if rows_stored:
        given = ", ".join(f"{k}={v}" for k, v in filters.items() if v is not None)
        return f"no leaderboard row for {given}: see the windows and prompts listed, or leave the filters out"
    if not settings.ai_predict_models:
        return ("no prediction scored yet: set AI_PREDICT_MODELS (provider:model, ...) so that ai_predict.py asks "
                "the models every evening; ai_evaluate.py scores each prediction once its horizon has passed")
    if not storage.predictions.find_predictions(limit=1, light=True):
        return "no prediction stored yet: ai_predict.py has not stored a batch (see check_db for its last run)"
    return (f"no prediction scored yet: ai_evaluate.py scores a prediction {min(HORIZONS)} sessions after its day "
            "at the earliest and then computes the leaderboard (see check_db for its last run)")


def _interval(value: Any) -> Interval | None:
    if isinstance(value, dict) and "low" in value and "high" in value:
        return Interval(low=value["low"], high=value["high"])
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        return Interval(low=value[0], high=value[1])
    return None


SCORES = ("accuracy", "balanced_accuracy", "majority_accuracy", "base_rate", "brier", "climatology_brier",
          "brier_skill", "ic_mean", "ic_std", "icir", "ic_days", "top_k", "top_k_excess")
COUNTS = ("asked", "answered", "parsed", "scored", "late", "memorised", "waiting", "unpriced")


def _leaderboard_row(doc: dict[str, Any], min_count: int) -> LeaderboardRow:
    """A stored row (lib/ai/evaluate_board.py: counts, `scores` of lib/ai/scoring.py or None before any outcome)
    as served: intervals as {low, high}, and why an unranked row is not ranked."""
    scores = doc.get("scores") or {}
    intervals = {name: i for name, value in (scores.get("intervals") or {}).items() if (i := _interval(value))}
    scored = int(doc.get("scored") or 0)
    ranked = bool(doc.get("ranked"))
    why = None
    if not ranked:
        if scored < min_count:
            why = f"{scored} scored prediction(s), under AI_LEADERBOARD_MIN_COUNT={min_count}"
        elif scores.get("brier_skill") is None:
            why = "no Brier skill: every outcome in the window was the same"
        else:  # the row was computed under a larger minimum than the one set now
            why = (f"computed when AI_LEADERBOARD_MIN_COUNT was above {scored}; ai_evaluate.py ranks it on its next "
                   "run")
    return LeaderboardRow(
        model_ref=doc["model_ref"], prompt=doc["prompt"], prompt_version=doc.get("prompt_version"),
        horizon=doc["horizon"], window_days=doc["window_days"], **{c: int(doc.get(c) or 0) for c in COUNTS},
        coverage=doc.get("coverage"), parse_rate=doc.get("parse_rate"), **{s: scores.get(s) for s in SCORES},
        tokens_per_scored_call=doc.get("tokens_per_scored"), cost_per_scored_call_usd=doc.get("cost_per_scored"),
        intervals=intervals, calibration=[CalibrationBin.model_validate(b) for b in scores.get("calibration") or []],
        ranked=ranked, rank=doc.get("rank") if ranked else None, unranked_why=why, from_day=doc.get("from_day"),
        through_day=doc.get("through_day"), computed_utc=doc["computed_utc"],
    )


def _order(row: LeaderboardRow) -> tuple:
    # Within a window and horizon: the ranked by rank, then the unranked by how much they scored.
    return (row.window_days, row.horizon, not row.ranked, row.rank or 0, -row.scored, row.model_ref, row.prompt,
            row.prompt_version or "")


@router.get("/ai/leaderboard", response_model=Leaderboard, responses=error_responses(401, 404, 422, 503))
def leaderboard(
    storage: StorageDep,
    settings: SettingsDep,
    horizon: Annotated[Horizon | None, Query(description="sessions ahead: 5, 10 or 20; default every horizon")] = None,
    window: Annotated[int | None, Query(
        ge=0, le=100_000, description="days back from the last scored day, one of AI_LEADERBOARD_WINDOWS (0: "
                                      "everything); default every window")] = None,
    prompt: Annotated[str | None, Query(pattern=PROMPT_PATTERN, description="a prompt the rows are of")] = None,
) -> Leaderboard:
    """Per model, prompt and horizon over a window: how many predictions were asked, answered and scored, the
    accuracy, Brier score and skill against the base rate, rank IC and top-k excess return with 95% intervals,
    calibration bins, and tokens and cost per scored call. A row is ranked only from AI_LEADERBOARD_MIN_COUNT
    scored predictions. An empty leaderboard says why in `empty_why`."""
    windows = settings.ai_leaderboard_windows
    if window is not None and window not in windows:
        raise ApiError(422, f"window={window} is not computed; AI_LEADERBOARD_WINDOWS is "
                            f"{', '.join(str(w) for w in windows)} (days, 0: everything)", {"windows": windows})
    stored = storage.predictions.leaderboard_rows()
    prompts = sorted({r["prompt"] for r in stored if isinstance(r.get("prompt"), str)})
    if prompt is not None and stored and prompt not in prompts:
        raise not_found("prompt", prompt, prompts, "the prompts the leaderboard's rows are of")
    docs = [r for r in stored if (horizon is None or r.get("horizon") == int(horizon))
            and (window is None or r.get("window_days") == window) and (prompt is None or r.get("prompt") == prompt)]
    rows = sorted((_leaderboard_row(d, settings.ai_leaderboard_min_count) for d in docs), key=_order)
    computed = max((r["computed_utc"] for r in stored if r.get("computed_utc")), default=None)
    filters = {"horizon": None if horizon is None else int(horizon), "window": window, "prompt": prompt}
    return Leaderboard(
        rows=rows, count=len(rows), windows=windows, prompts=prompts, min_count=settings.ai_leaderboard_min_count,
        computed_utc=computed, empty_why=None if rows else _empty_why(storage, settings, bool(stored), filters),
    )


def _end_day(calendar: TradingCalendar | None, day: dt.date, horizon: int) -> dt.date | None:
    """The session `horizon` sessions after `day` (what the outcome is measured at, as ai_evaluate.py counts it);
    None past the calendar."""
    return end_session(calendar, day, horizon) if calendar is not None else None


def _prediction(doc: dict[str, Any], calendar: TradingCalendar | None) -> Prediction:
    day = dt.date.fromisoformat(doc["day"])
    scorable = doc.get("status") == "ok" and not doc.get("late") and not doc.get("memorised")
    outcomes = doc.get("outcomes") or {}
    calls = []
    for key, call in sorted((doc.get("horizons") or {}).items(), key=lambda kv: int(kv[0])):
        horizon = int(key)
        stored = outcomes.get(key)
        outcome = Outcome.model_validate(stored) if stored else None
        state = "scored" if outcome else "waiting" if scorable else "not scored"
        calls.append(HorizonCall(
            horizon=horizon, probability=call.get("probability"), direction=call.get("direction"),
            reason=call.get("reason"), citations=[str(c) for c in call.get("citations") or []], state=state,
            end_day=outcome.end_day if outcome else _end_day(calendar, day, horizon), outcome=outcome,
        ))
    return Prediction(
        id=doc["_id"], day=day, market=doc.get("market"), ticker=doc["ticker"], model_ref=doc["model_ref"],
        prompt=doc["prompt"], prompt_version=doc.get("prompt_version"), status=doc.get("status", "failed"),
        error=doc.get("error"), parse_ok=doc.get("parse_ok"), late=bool(doc.get("late")),
        memorised=bool(doc.get("memorised")), made_utc=doc.get("made_utc"), deadline_utc=doc.get("deadline_utc"),
        input_digest=doc.get("input_digest"), context_ids=[str(c) for c in doc.get("context_ids") or []],
        usage=doc.get("usage") or {}, cost_usd=doc.get("cost_usd"), latency_ms=doc.get("latency_ms"),
        horizons=calls,
    )


@router.get("/ai/predictions", response_model=PredictionList, responses=error_responses(401, 404, 422, 503))
def predictions(
    storage: StorageDep,
    settings: SettingsDep,
    calendar: CalendarDep,
    ticker: Annotated[str | None, Query(pattern=TICKER_PATTERN, description="a KRX code, e.g. 005930")] = None,
    model: Annotated[str | None, Query(pattern=MODEL_REF_PATTERN, description="provider:model")] = None,
    day: Annotated[IsoDate | None, Query(description="the prediction day, YYYY-MM-DD")] = None,
    since: Annotated[IsoDate | None, Query(description="prediction days from this one on (not with day)")] = None,
    prompt: Annotated[str | None, Query(pattern=PROMPT_PATTERN, description="a prompt's name")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="predictions, newest day first")] = 100,
) -> PredictionList:
    """Stored predictions by ticker, model, day (or days since) and prompt, newest day first: each horizon's
    probability of beating the universe's median return, direction, reason and citations, whether it is late or
    memorised (never scored), and its outcome once ai_evaluate.py stored it, else `waiting` with the session it
    waits for."""
    if day is not None and since is not None:
        raise ApiError(422, "give day or since, not both")
    for name, value in (("model", model), ("prompt", prompt)):
        if value is not None:
            known = storage.predictions.stored_values("model_ref" if name == "model" else name)
            if name == "model":  # a configured model without a prediction yet is no typo: an empty list
                known = sorted({*known, *settings.ai_predict_models})
            if value not in known:
                raise not_found(name, value, known, "the values stored predictions have")
    docs = storage.predictions.find_predictions(ticker=ticker, model_ref=model, day=day, since=since, prompt=prompt,
                                                limit=limit + 1, light=True)
    us = None
    out = []
    for doc in docs[:limit]:
        cal: TradingCalendar | None = calendar
        if doc.get("market") in US_MARKETS:
            us = us or _us_calendar(settings)
            cal = us
        out.append(_prediction(doc, cal))
    return PredictionList(predictions=out, count=len(out), limit=limit, more=len(docs) > limit)


def _us_calendar(settings: Settings) -> TradingCalendar | None:
    try:
        return us_calendar(settings)
    except ConfigError:
        return None
