"""GET /health (and HEAD): is the database reachable, is each market this install runs collected up to its own
calendar, is the KRX analysis current. The markets come from the market definitions (lib/status.known_markets)
and what the install has run, never a fixed list of job names, so a US-only install is judged by its US days.
Fast whatever the history length (a handful of indexed reads), and open to monitoring without a key."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pymongo.errors import PyMongoError

from api.deps import NowDep, SettingsDep, caller_key, get_storage
from api.errors import clip, error_responses
from api.types import UtcDateTime
from lib.config import Settings
from lib.errors import PipelineError
from lib.ops.status import MarketInfo, expected_markets, known_markets, market_of
from lib.spine.calendar import TradingCalendar
from lib.storage import DAY_JOB, Storage

router = APIRouter(tags=["health"])


class JobRun(BaseModel):
    """The latest run of one cron job."""

    status: str
    start_time_utc: UtcDateTime | None = None
    end_time_utc: UtcDateTime | None = None
    error: str | None = Field(
        default=None,
        description="why the run failed; shown only to a caller with a valid X-API-Key (it may name hosts)",
    )


class MarketHealth(BaseModel):
    """One market this install runs: how far its collection got against its own calendar."""

    job: str = Field(description="the collection job whose day records it is (daily_update, etf_pipeline)")
    label: str
    last_collected_day: dt.date | None = Field(description="newest trading day (the market's own date) collected")
    expected_collected_day: dt.date | None = Field(
        description="the session collection should have reached by now: the one before the market's today (the one "
                    "before that until 10:00 in the market's zone, while cron catches up)"
    )
    stale: bool


class Health(BaseModel):
    """Whether the pipeline is current."""

    status: Literal["ok", "stale"] = Field(description="stale: a market's collection or the analysis is behind")
    database: Literal["ok"] = "ok"
    markets: dict[str, MarketHealth] = Field(
        description="each market this install runs (MARKETS, else those with collected days, else KRX), by its "
                    "MARKETS name (krx, us)"
    )
    last_collected_day: dt.date | None = Field(
        description="KRX: newest KST trading day whose collection is done (null when KRX is not run here)"
    )
    last_analysed_day: dt.date | None = Field(description="KRX: newest day whose analysis completed (picks stored)")
    expected_collected_day: dt.date | None = Field(description="KRX: the session collection should have reached")
    collection_stale: bool = Field(description="any market in `markets` is stale")
    analysis_stale: bool = Field(description="KRX's analysis is behind its collection (false when KRX is not run)")
    jobs: dict[str, JobRun] = Field(description="latest run of each job this install has run")


def expected_day(calendar: TradingCalendar, now_local: dt.datetime) -> dt.date | None:
    """The newest session every source has published by now, in the market's own zone: the session before
    today's (the KRX Open API publishes a day at 08:00 the next morning; Yahoo an hour after the US close, which
    cron collects that evening), or the one before that until 10:00, while cron catches up."""
    try:
        day = calendar.previous_session(now_local.date())
        return calendar.previous_session(day) if now_local.hour < 10 else day
    except PipelineError:
        return None


def _known_markets(request: Request, settings: Settings) -> dict[str, MarketInfo]:
    """The market definitions with this app's calendars, built on the first probe (about 10 ms) and kept."""
    state = request.app.state
    if getattr(state, "known_markets", None) is None:
        state.known_markets = known_markets(settings)
    return state.known_markets


def _market(storage: Storage, market: MarketInfo, now: dt.datetime) -> MarketHealth:
    collected = storage.last_done_day(market.job_name)
    expected = expected_day(market.calendar, now.astimezone(market.tz)) if market.calendar else None
    stale = expected is not None and (collected is None or collected < expected)
    return MarketHealth(job=market.job_name, label=market.label, last_collected_day=collected,
                        expected_collected_day=expected, stale=stale)


@router.get(
    "/health",
    response_model=Health,
    responses=error_responses(503),
    summary="Database reachable, latest collected day per market and analysed day, stale or not",
)
def health(
    request: Request,
    settings: SettingsDep,
    now: NowDep,
    key: Annotated[str | None, Depends(caller_key)],
) -> Health | JSONResponse:
    """Each market this install runs (MARKETS, else the markets with collected days, else KRX) with its last
    collected day against its own calendar, the KRX analysis, and the latest run of every job that has run.
    The database down is a 503 within API_DB_TIMEOUT_SECONDS; the reason is shown only to a caller with a key."""
    known = _known_markets(request, settings)
    try:
        storage: Storage = get_storage(request)
        storage.ping()
        run_here = expected_markets(settings, known, set(storage.job_names("day")))
        markets = {(m := market_of(job, known)).key or job: _market(storage, m, now) for job in sorted(run_here)}
        analysed = storage.latest_analysis_day() if DAY_JOB in run_here else None
        jobs = {}
        for name in storage.job_names("run"):
            runs = storage.runs(name, limit=1)
            if runs:
                run = {k: runs[0].get(k) for k in JobRun.model_fields}
                if not key:
                    run["error"] = None
                jobs[name] = JobRun(**run)
    except (PipelineError, PyMongoError) as exc:
        details = {"reason": clip(exc)} if key else None
        body = {"error": {"code": "unavailable", "message": "the database is not reachable", "details": details}}
        return JSONResponse(body, 503)
    krx = markets.get(known[DAY_JOB].key or DAY_JOB)
    collected = krx.last_collected_day if krx else None
    collection_stale = any(m.stale for m in markets.values())
    in_analysis_window = now.hour >= 19 or now.hour < 9  # hourly_analysis runs 19:10..08:10 KST
    analysis_stale = collected is not None and (analysed is None or analysed < collected) and not in_analysis_window
    return Health(
        status="stale" if collection_stale or analysis_stale else "ok",
        markets=markets,
        last_collected_day=collected,
        last_analysed_day=analysed,
        expected_collected_day=krx.expected_collected_day if krx else None,
        collection_stale=collection_stale,
        analysis_stale=analysis_stale,
        jobs=jobs,
    )

