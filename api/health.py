"""GET /health (and HEAD): is the database reachable, is each dataset this install runs collected up to its own
calendar (or, for a watermark dataset, read recently enough), are the jobs that subscribe to them (the analysis)
current. The datasets come from the registry (lib/spine/registry.py) and what the install has run, never a fixed list of
job names, so a US-only install is judged by its US days. Fast whatever the history length (a handful of indexed
reads), and open to monitoring without a key."""

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
from lib.ops.status import watermark_states
from lib.ops.status_markets import Tracked, expected_jobs, tracked
from lib.spine.calendar import TradingCalendar
from lib.spine.datasets import Registry
from lib.spine.registry import registry
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


class MarketHealth(BaseModel):
    """One dataset this install runs: how far its collection got against its own calendar."""

    job: str = Field(description="the collection job whose day records it is (daily_update, etf_pipeline)")
    dataset: str = Field(description="its key in the registry of datasets (market.kind: krx.bars, us.etf_bars)")
    label: str
    last_collected_day: dt.date | None = Field(description="newest trading day (the market's own date) collected")
    expected_collected_day: dt.date | None = Field(
        description="the session collection should have reached by now: the one before the market's today (the one "
                    "before that until 10:00 in the market's zone, while cron catches up)"
    )
    stale: bool
    last_analysed_day: dt.date | None = Field(
        None, description="a dataset whose stocks are analysed (krx, us stocks): its newest day whose analysis "
                          "completed (picks stored, read from the market's own collections); null otherwise")
    analysis_stale: bool | None = Field(
        None, description="its analysis is behind its collection (outside the analysis's working hours); null when "
                          "nothing analyses the dataset")


class WatermarkHealth(BaseModel):
    """One watermark dataset: how far it has read and whether that is too long ago."""

    label: str
    read_through_utc: UtcDateTime | None = Field(description="the newest item (or read) time its watermark stands at")
    lag_seconds: float | None = Field(description="now minus read_through; null before the first read")
    stale: bool
    off: str | None = Field(default=None, description="why it is off on this install (its key blank); never stale")


class Health(BaseModel):
    """Whether the pipeline is current."""

    status: Literal["ok", "stale"] = Field(description="stale: a dataset's collection or the analysis is behind")
    database: Literal["ok"] = "ok"
    markets: dict[str, MarketHealth] = Field(
        description="each session dataset this install runs (MARKETS, else those with collected days, else the "
                    "first registered), by its MARKETS name (krx, us; market.kind when a market has several session "
                    "datasets)"
    )
    watermarks: dict[str, WatermarkHealth] = Field(
        default_factory=dict, description="each watermark dataset this install runs (of a market in MARKETS, else "
                                          "one whose job has run): event streams, revisable series, by its key"
    )
    last_collected_day: dt.date | None = Field(
        description="the analysed dataset (KRX): newest trading day whose collection is done (null when not run here)"
    )
    last_analysed_day: dt.date | None = Field(description="its newest day whose analysis completed (picks stored)")
    expected_collected_day: dt.date | None = Field(description="its session collection should have reached")
    collection_stale: bool = Field(description="any dataset in `markets` or `watermarks` is stale")
    analysis_stale: bool = Field(description="the analysis is behind its dataset's collection (false when not run); "
                                             "each market's own is in `markets`")
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


def _registered(request: Request, settings: Settings) -> tuple[Registry, list[Tracked]]:
    """The registered datasets with this app's calendars, built on the first probe (about 10 ms) and kept."""
    state = request.app.state
    datasets = getattr(state, "datasets", None) or registry()
    if getattr(state, "tracked", None) is None or getattr(state, "tracked_registry", None) is not datasets:
        state.tracked, state.tracked_registry = tracked(datasets, settings, set()), datasets
    return datasets, state.tracked


def _market(storage: Storage, item: Tracked, now: dt.datetime) -> MarketHealth:
    collected = storage.jobs.last_done_day(item.dataset.job)
    expected = expected_day(item.calendar, now.astimezone(item.dataset.tz)) if item.calendar else None
    stale = expected is not None and (collected is None or collected < expected)
    analysed, behind = _analysis(storage, item, collected, now)
    return MarketHealth(job=item.dataset.job, dataset=item.dataset.key, label=item.dataset.label,
                        last_collected_day=collected, expected_collected_day=expected, stale=stale,
                        last_analysed_day=analysed, analysis_stale=behind)


def _analysis(storage: Storage, item: Tracked, collected: dt.date | None, now: dt.datetime
              ) -> tuple[dt.date | None, bool | None]:
    """The dataset's analysis (its subscriber that says how far it got), from the market's own collections: its
    newest finished day, and whether it is behind the collection outside its working hours; (None, None) when
    nothing analyses the dataset."""
    subscriber = next((s for s in item.dataset.subscribers if s.done_through), None)
    if subscriber is None or subscriber.done_through is None:
        return None, None
    analysed = subscriber.done_through(storage.scoped(item.dataset.namespace))
    if collected is None:
        return analysed, False
    hour = now.astimezone(item.dataset.tz).hour
    start, end = subscriber.busy_hours or (0, 0)
    at_work = (start <= hour or hour < end) if start > end else start <= hour < end  # a window over midnight
    return analysed, (analysed is None or analysed < collected) and not at_work


def _name(item: Tracked, datasets: Registry) -> str:
    """A dataset's key in `markets`: its market's name for the market's first session dataset (krx, us: the ETFs),
    its registry key for a later one (us.stocks), so a dataset added to a market never renames an entry."""
    if not item.registered:
        return item.dataset.job
    sessions = [d for d in datasets.of_market(item.dataset.market) if d.cadence == "session"]
    return item.dataset.market if sessions and sessions[0].key == item.dataset.key else item.dataset.key


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
    """Each dataset this install runs (MARKETS, else the datasets with collected days, else the first registered)
    with its last collected day against its own calendar, each watermark dataset's lag, the analysis of the dataset
    it subscribes to, and the latest run of every job that has run. The database down is a 503 within
    API_DB_TIMEOUT_SECONDS; the reason is shown only to a caller with a key."""
    datasets, registered = _registered(request, settings)
    try:
        storage: Storage = get_storage(request)
        storage.ping()
        recorded = set(storage.jobs.job_names("day"))
        # day records of a job no dataset registers are shown too, without a calendar
        items = registered + [t for t in tracked(datasets, settings, recorded) if not t.registered]
        run_here = expected_jobs(settings, datasets, recorded)
        shown = [item for item in items if item.dataset.job in run_here]
        markets = {_name(item, datasets): _market(storage, item, now) for item in shown}
        watermarks = {w.dataset: WatermarkHealth(
            label=w.label, read_through_utc=w.read_through, stale=w.stale, off=w.off,
            lag_seconds=w.lag.total_seconds() if w.lag is not None else None,
        ) for w in watermark_states(storage, settings, datasets, now)}
        # The analysis: the first dataset run here with a subscriber that says how far it got.
        analysed_item = next((i for i in shown for s in i.dataset.subscribers if s.done_through), None)
        jobs = {}
        for name in storage.jobs.job_names("run"):
            runs = storage.jobs.runs(name, limit=1)
            if runs:
                run = {k: runs[0].get(k) for k in JobRun.model_fields}
                if not key:
                    run["error"] = None
                jobs[name] = JobRun(**run)
    except (PipelineError, PyMongoError) as exc:
        details = {"reason": clip(exc)} if key else None
        body = {"error": {"code": "unavailable", "message": "the database is not reachable", "details": details}}
        return JSONResponse(body, 503)
    main = markets.get(_name(analysed_item, datasets)) if analysed_item else None
    collected = main.last_collected_day if main else None
    analysed = main.last_analysed_day if main else None
    collection_stale = any(m.stale for m in markets.values()) or any(w.stale for w in watermarks.values())
    analysis_stale = bool(main and main.analysis_stale)
    any_analysis_stale = any(m.analysis_stale for m in markets.values())
    return Health(
        status="stale" if collection_stale or any_analysis_stale else "ok",
        markets=markets,
        watermarks=watermarks,
        last_collected_day=collected,
        last_analysed_day=analysed,
        expected_collected_day=main.expected_collected_day if main else None,
        collection_stale=collection_stale,
        analysis_stale=analysis_stale,
        jobs=jobs,
    )
