"""GET /status: what `check_db.py --json` prints, for the dashboard and monitors: per registered dataset the
collected range, holes, failed and no_data days and how far behind it is; the analysis lag; the last run of
every job; alert delivery; what needs attention. Read-only, a handful of reads per market and job."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Security
from pydantic import BaseModel, ConfigDict, Field

from api.deps import API_KEY_HEADER, ComputeDep, NowDep, SettingsDep, StorageDep, read_access, require_key
from api.errors import error_responses
from lib.analysis.status import AnalysisStatus
from lib.ops.status import AlertStatus, JobRun, MarketStatus, QuarantineStatus, gather
from lib.ops.status_ai import AiPredictionsStatus
from lib.ops.status_view import to_plain
from lib.spine.datasets import WatermarkState
from lib.storage import CollectionSize

router = APIRouter(tags=["health"], dependencies=[Depends(read_access)])


class PipelineStatus(BaseModel):
    """The pipeline's state, as check_db shows it."""

    model_config = ConfigDict(ser_json_timedelta="float")  # a watermark's lag in seconds, as check_db --json

    as_of: dt.datetime = Field(description="when it was read (UTC)")
    markets: list[MarketStatus] = Field(
        description="one per registered session dataset, and per other job whose day records are stored"
    )
    analysis: AnalysisStatus | None = Field(
        description="the state of the job subscribing to the first screened dataset (the KRX universe and analysis; "
                    "every market's is in `analyses`); null before any collection"
    )
    analyses: list[AnalysisStatus] = Field(
        default_factory=list,
        description="the analysis of every market with screened stocks and a collected day (KRX's first, then e.g. "
                    "the US stocks'), each read from its market's own collections; `market` says which")
    jobs: list[JobRun] = Field(description="the latest run of every job, with its failure streak")
    sizes: list[CollectionSize] = Field(
        description="database size per collection (only with sizes=true, which needs an X-API-Key)"
    )
    alerts: AlertStatus
    attention: list[str] = Field(description="one line per problem, saying what to do; empty when all is well")
    quarantine: QuarantineStatus = Field(
        description="bars the price-limit check kept out of stock_data: how many, the newest few (not a reason for "
                    "exit_code 1)"
    )
    quarantines: list[QuarantineStatus] = Field(
        description="every market's held bars, each from its own collections (`dataset`, `namespace`), the first "
                    "market's first (the same as `quarantine`)"
    )
    watermarks: list[WatermarkState] = Field(
        description="each watermark dataset this install runs: how far it has read, its lag (seconds)")
    registry_errors: list[str] = Field(description="market modules skipped (module: why); their data is not collected")
    ai_predictions: AiPredictionsStatus = Field(
        description="the AI prediction batch (ai_predict) and its scoring (ai_evaluate): last runs, the last batch's "
                    "counts, predictions waiting for their horizon, the leaderboard's computed time; `off` says why "
                    "when AI_PREDICT_MODELS is blank")
    exit_code: int = Field(description="check_db's exit code: 0 all well, 1 needs attention, 2 nothing collected yet")


@router.get("/status", response_model=PipelineStatus, responses=error_responses(401, 403, 422, 429, 503))
def status(
    request: Request,
    storage: StorageDep,
    settings: SettingsDep,
    now: NowDep,
    compute: ComputeDep,
    sizes: Annotated[bool, Query(
        description="also measure each collection (seconds on a large store): needs a valid X-API-Key even when "
                    "reads are open (401 without one, 403 when the server has no API_KEYS)"
    )] = False,
    api_key: Annotated[str | None, Security(API_KEY_HEADER)] = None,
) -> PipelineStatus:
    """check_db's report as JSON: markets, analysis lag, last runs, alerts and what needs attention, as of the
    app's clock."""
    datasets = request.app.state.datasets  # the app's registry of datasets (every market's analysis)
    if not sizes:
        return PipelineStatus.model_validate(to_plain(gather(storage, settings, now, sizes=False, registry=datasets)))
    require_key(settings, api_key, "GET /status?sizes=true")
    with compute.guard("sizes=true"):  # one command per collection: a compute slot and the caller's budget
        report = gather(storage, settings, now, sizes=True, registry=datasets)
    return PipelineStatus.model_validate(to_plain(report))
