"""GET /health: is the database reachable, is collection and analysis current. Fast whatever the history
length (a handful of indexed reads), and open to monitoring without a key."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pymongo.errors import PyMongoError

from api.deps import CalendarDep, NowDep, caller_key, get_storage
from api.errors import clip, error_responses
from api.types import UtcDateTime
from lib.calendar import TradingCalendar
from lib.errors import PipelineError
from lib.storage import Storage

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


class Health(BaseModel):
    """Whether the pipeline is current."""

    status: Literal["ok", "stale"] = Field(description="stale: collection or analysis is behind the calendar")
    database: Literal["ok"] = "ok"
    last_collected_day: dt.date | None = Field(description="newest KST trading day whose collection is done")
    last_analysed_day: dt.date | None = Field(description="newest day whose analysis completed (picks stored)")
    expected_collected_day: dt.date | None = Field(description="the session collection should have reached by now")
    collection_stale: bool
    analysis_stale: bool
    jobs: dict[str, JobRun] = Field(description="latest run of each job")


def expected_day(calendar: TradingCalendar, now_kst: dt.datetime) -> dt.date | None:
    """The newest session every source has published by now: the session before today's (the KRX Open API
    publishes a day at 08:00 the next morning), or the one before that until 10:00, while cron catches up."""
    try:
        day = calendar.previous_session(now_kst.date())
        return calendar.previous_session(day) if now_kst.hour < 10 else day
    except PipelineError:
        return None


@router.get(
    "/health",
    response_model=Health,
    responses=error_responses(503),
    summary="Database reachable, latest collected and analysed day, stale or not",
)
def health(
    request: Request,
    calendar: CalendarDep,
    now: NowDep,
    key: Annotated[str | None, Depends(caller_key)],
) -> Health | JSONResponse:
    """The last collected and analysed trading days, whether they are behind, and each job's latest run.
    The database down is a 503 within API_DB_TIMEOUT_SECONDS; the reason is shown only to a caller with a key."""
    try:
        storage: Storage = get_storage(request)
        storage.ping()
        collected = storage.last_done_day()
        analysed = storage.latest_analysis_day()
        jobs = {}
        for name in ("daily_update", "hourly_analysis", "manual_setup"):
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
    expected = expected_day(calendar, now)
    collection_stale = expected is not None and (collected is None or collected < expected)
    in_analysis_window = now.hour >= 19 or now.hour < 9  # hourly_analysis runs 19:10..08:10 KST
    analysis_stale = collected is not None and (analysed is None or analysed < collected) and not in_analysis_window
    return Health(
        status="stale" if collection_stale or analysis_stale else "ok",
        last_collected_day=collected,
        last_analysed_day=analysed,
        expected_collected_day=expected,
        collection_stale=collection_stale,
        analysis_stale=analysis_stale,
        jobs=jobs,
    )
