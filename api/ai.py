"""POST /ai/analysis (an LLM analyses tickers, or a screener's picks, with a chosen prompt; one model or
several side by side) and GET /ai/analysis/{id} (a stored result)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.deps import (
    CalendarDep,
    ComputeAccess,
    KeyBudget,
    NowDep,
    RegistryDep,
    SettingsDep,
    StorageDep,
    read_access,
    spend_access,
)
from api.errors import ApiError, clip, error_responses, not_found
from api.screener import TrackRecord, resolve_day, screener_result
from api.stocks import TICKER_PATTERN
from api.types import IsoDate, UtcDateTime
from lib.ai.analyse import analysis_data, run_models, universe_context
from lib.ai.context import Context
from lib.ai.llm import DEFAULT_MODELS, LlmNotConfigured, ModelSpec, allowed_models
from lib.ai.prompts import PromptRegistry, StrategyData
from lib.analysis.screener import Registry
from lib.config import Settings
from lib.errors import ConfigError
from lib.storage import Storage

router = APIRouter(tags=["ai"])
MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}$"
ProviderName = Literal["gemini", "openai"]


class ModelChoice(BaseModel):
    """A model to ask; the provider defaults to the request's or LLM_PROVIDER."""

    model_config = ConfigDict(extra="forbid")

    provider: ProviderName | None = None
    model: str = Field(pattern=MODEL_PATTERN, description="one of LLM_ALLOWED_MODELS, e.g. gemini-2.5-flash")


class AnalysisRequest(BaseModel):
    """What to analyse: `tickers`, or the picks of `strategy_name` on `date` with `params`."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(max_length=100, description="a name from GET /prompts")
    tickers: list[Annotated[str, Field(pattern=TICKER_PATTERN)]] | None = Field(None, min_length=1, max_length=50)
    strategy_name: str | None = Field(None, max_length=100, description="analyse this screener's picks")
    date: IsoDate | None = Field(None, description="KST day YYYY-MM-DD; default latest analysed")
    params: dict[str, bool | int | float | str] | None = Field(None, max_length=20, description="strategy params")
    provider: ProviderName | None = Field(None, description="default LLM_PROVIDER")
    model: str | None = Field(None, pattern=MODEL_PATTERN, description="default LLM_MODEL; one of LLM_ALLOWED_MODELS")
    models: list[ModelChoice] | None = Field(None, min_length=1, max_length=4, description="compare these models")

    @model_validator(mode="after")
    def _one_subject(self) -> AnalysisRequest:
        if (self.tickers is None) == (self.strategy_name is None):
            raise ValueError("give either tickers or strategy_name")
        if self.params is not None and self.strategy_name is None:
            raise ValueError("params go with strategy_name")
        if self.models is not None and self.model is not None:
            raise ValueError("give model or models, not both")
        return self


class Usage(BaseModel):
    """Tokens the provider reported (summed over re-asks)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class ModelResult(BaseModel):
    """One model's answer."""

    id: str = Field(description="GET /ai/analysis/{id} returns it again")
    status: Literal["ok", "failed"]
    cached: bool = Field(description="served from MongoDB: the same request on the same data, no LLM call")
    provider: str
    model: str
    model_name: str | None = Field(None, description="the model the provider says answered")
    result: dict[str, Any] | None = Field(None, description="the prompt's structured output")
    error: str | None = None
    attempts: int = Field(description="replies received (re-asks after unparseable replies included)")
    model_calls: int = Field(0, description="calls made to the provider, failed ones included (what the hourly "
                             "limit counts); 0 when cached")
    usage: Usage
    finish_reason: str | None = None
    latency_ms: int
    created_utc: UtcDateTime


class AnalysisResponse(BaseModel):
    """Each model's result for the same prompt and data."""

    prompt: str
    prompt_version: str
    data_date: dt.date = Field(description="the analysed day the data is from")
    tickers: list[str]
    strategy: str | None = None
    params: dict[str, Any] | None = None
    truncated: int = Field(0, description="picks left out to stay within the ticker limit (weakest first)")
    track_record: TrackRecord | None = None
    context: Context | None = Field(None, description="the filings (D..), news stories (N..) and macro readings "
                                    "(M..) the models were given, known by the data day's end: what `citations` "
                                    "in a result refer to")
    results: list[ModelResult]


class StoredResult(ModelResult):
    """A stored result with what it was asked and the raw replies."""

    prompt: str
    prompt_version: str
    data_date: dt.date
    tickers: list[str]
    strategy: str | None = None
    raw_reply: str | None = None
    parse_error: str | None = None
    parse_errors: list[str] = Field(default_factory=list)
    context: Context | None = Field(None, description="the context block it was given (its ids and what each "
                                    "stands for); none on results stored before it existed")


def _model_result(doc: dict[str, Any]) -> ModelResult:
    return ModelResult(
        id=doc["_id"], cached=doc.get("cached", False), usage=Usage(**(doc.get("usage") or {})),
        model_calls=0 if doc.get("cached") else doc.get("model_calls", 0),
        **{k: doc.get(k) for k in ("status", "provider", "model", "model_name", "result", "error", "attempts",
                                   "finish_reason", "latency_ms", "created_utc")},
    )


def _specs(body: AnalysisRequest, settings: Settings) -> list[ModelSpec]:
    """The models to ask, in order, without repeats: `models`, or `provider`/`model`, or the settings; 422 for a
    model LLM_ALLOWED_MODELS does not name."""
    provider = body.provider or settings.llm_provider

    def default_model(chosen: str) -> str:
        return settings.llm_model if settings.llm_model and chosen == settings.llm_provider else DEFAULT_MODELS[chosen]

    if body.models:
        choices = [(c.provider or provider, c.model) for c in body.models]
    else:
        choices = [(provider, body.model or default_model(provider))]
    allowed = allowed_models(settings)
    specs: list[ModelSpec] = []
    for chosen, model in choices:
        if model not in allowed:
            raise ApiError(422, f"model {model} is not allowed on this server; allowed: {', '.join(allowed)} "
                           "(LLM_ALLOWED_MODELS)", {"model": model, "allowed": allowed})
        spec = ModelSpec(chosen, model, settings.llm_temperature)  # type: ignore[arg-type]
        if spec not in specs:
            specs.append(spec)
    return specs


def get_prompts(request: Request) -> PromptRegistry:
    """The prompts found in prompts/ when the app was created."""
    return request.app.state.prompts


def _subject(
    body: AnalysisRequest, storage: Storage, registry: Registry, calendar: Any, today: dt.date, limit: int,
    compute: ComputeAccess,
) -> tuple[list[str], dt.date, dict[str, dict[str, Any]], StrategyData | None, dict[str, Any], int]:
    """The tickers, the data day, the picks (by ticker), the strategy, the response extras and the picks left
    out."""
    if body.strategy_name is not None:
        try:
            strategy = registry[body.strategy_name]
        except ConfigError:
            raise not_found("strategy", body.strategy_name, [s.name for s in registry]) from None
        try:
            params = strategy.parse_params(body.params or {})
        except ConfigError as exc:
            raise ApiError(422, clip(exc)) from None
        day = resolve_day(storage, calendar, strategy.name, body.date, today)
        # Custom parameters are computed before the AI limit is charged: the app's slots and the key's compute
        # budget, as on GET /screener, so a key out of model calls cannot have screen after screen computed.
        screened = screener_result(storage, calendar, strategy, params, day, compute)
        if not screened.picks:
            raise ApiError(404, f"{strategy.name} picked no stock on {day}: nothing to analyse",
                           {"date": day.isoformat()})
        chosen = screened.picks[:limit]
        picks = {p.ticker: p.model_dump() for p in chosen}
        data = StrategyData(name=strategy.name, description=strategy.description, params=params.model_dump(),
                            track_record=screened.track_record.model_dump())
        extras = {"strategy": strategy.name, "params": params.model_dump(), "track_record": screened.track_record}
        return [p.ticker for p in chosen], day, picks, data, extras, len(screened.picks) - len(chosen)
    tickers = list(dict.fromkeys(t.upper() for t in body.tickers or []))
    if len(tickers) > limit:
        raise ApiError(422, f"at most {limit} tickers per request (AI_MAX_TICKERS and the prompt's limit)")
    unknown = [t for t in tickers if storage.universe.ticker_doc(t) is None]
    if unknown:
        known = [t["ticker"] for t in storage.universe.universe(active_only=True)]
        raise not_found("ticker", unknown[0], known, "GET /stocks lists them")
    day = resolve_day(storage, calendar, None, body.date, today)
    return tickers, day, {}, None, {}, 0


@router.post(
    "/ai/analysis",
    response_model=AnalysisResponse,
    responses=error_responses(400, 401, 404, 409, 422, 429, 502, 503, 504),
)
def analyse(
    body: AnalysisRequest,
    settings: SettingsDep,
    storage: StorageDep,
    registry: RegistryDep,
    calendar: CalendarDep,
    now: NowDep,
    prompts: Annotated[PromptRegistry, Depends(get_prompts)],
    key_id: Annotated[str, Depends(spend_access)],
    request: Request,
) -> AnalysisResponse:
    """Ask the LLM (or several, `models`) to analyse stored data with a prompt. The same request on the same
    data is served from MongoDB with no LLM call. Needs X-API-Key; each key may make AI_RATE_LIMIT_PER_HOUR
    model calls per hour: a request reserves every call its models may make (re-asks included) before asking
    any (429 when they are not left) and gets back those not made; cached answers and requests refused before
    any model is asked cost nothing. Only models LLM_ALLOWED_MODELS names may be asked. Every prompt gets the
    context block (filings, news stories, macro readings known by the data day's end, ids D1/N1/M1; `context` in
    the answer); a result's `citations` name those ids, and an answer citing another is asked again, then 502."""
    specs = _specs(body, settings)
    try:
        prompt = prompts[body.prompt]
    except ConfigError:
        raise not_found("prompt", body.prompt, [p.name for p in prompts], "GET /prompts lists them") from None
    limit = min(settings.ai_max_tickers, prompt.max_tickers)
    compute = ComputeAccess(request.app.state.compute_slots, storage, settings, f"key:{key_id}", now)
    tickers, day, picks, strategy, extras, truncated = _subject(body, storage, registry, calendar, now.date(), limit,
                                                                compute)
    if len(tickers) < prompt.min_tickers:
        raise ApiError(422, f"prompt {prompt.name} needs at least {prompt.min_tickers} tickers; got {len(tickers)}")
    data = analysis_data(storage, tickers, day, picks, strategy, universe_context(storage, settings, tickers, day))
    if not any(s.rows for s in data.stocks):
        raise ApiError(409, f"no analysed rows up to {day} for {', '.join(tickers)}", code="not_ready")
    base = {"prompt": prompt.name, "prompt_version": prompt.version, "template_hash": prompt.template_hash,
            "tickers": tickers, "data_date": day.isoformat(), "strategy": extras.get("strategy"),
            "params": extras.get("params"), "key_id": key_id}
    try:
        docs = run_models(storage, settings, request.app.state.llm_factory, prompt, data, specs, base, now,
                          budget=KeyBudget(storage, settings, key_id, now))
    except LlmNotConfigured as exc:
        raise ApiError(503, str(exc), code="not_configured") from None
    results = [_model_result(d) for d in docs]
    if all(r.status == "failed" for r in results):
        timeout = all(d.get("error_kind") == "timeout" for d in docs)
        raise ApiError(
            504 if timeout else 502,
            clip(results[0].error or "the provider failed"),
            {"results": [{"id": r.id, "provider": r.provider, "model": r.model, "error": clip(r.error)}
                         for r in results]},
        )
    return AnalysisResponse(
        prompt=prompt.name, prompt_version=prompt.version, data_date=day, tickers=tickers, truncated=truncated,
        strategy=extras.get("strategy"), params=extras.get("params"), track_record=extras.get("track_record"),
        context=data.context, results=results,
    )


class StoredSummary(ModelResult):
    """A stored result with what it was asked (without the raw reply)."""

    prompt: str
    prompt_version: str
    data_date: dt.date
    tickers: list[str]
    strategy: str | None = None


class StoredList(BaseModel):
    """Stored results about one stock, newest first."""

    ticker: str
    items: list[StoredSummary]


@router.get(
    "/ai/analysis",
    response_model=StoredList,
    responses=error_responses(401, 422, 503),
    dependencies=[Depends(read_access)],
)
def stored_analyses(
    storage: StorageDep,
    ticker: Annotated[str, Query(pattern=TICKER_PATTERN, description="a KRX code, e.g. 005930")],
    limit: Annotated[int, Query(ge=1, le=50, description="results, newest first")] = 5,
) -> StoredList:
    """The latest stored analyses that include a stock (any prompt, model or status); an empty list when none."""
    ticker = ticker.upper()
    docs = storage.ai.ai_results_for(ticker, limit)
    items = [
        StoredSummary(
            **_model_result(doc).model_dump(),
            **{k: doc.get(k) for k in ("prompt", "prompt_version", "data_date", "tickers", "strategy")},
        )
        for doc in docs
    ]
    return StoredList(ticker=ticker, items=items)


@router.get(
    "/ai/analysis/{result_id}",
    response_model=StoredResult,
    responses=error_responses(401, 404, 422, 503),
    dependencies=[Depends(read_access)],
)
def stored_analysis(
    storage: StorageDep, result_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="a result id")]
) -> StoredResult:
    """A stored result, with its raw reply and parse errors."""
    doc = storage.ai.ai_result(result_id)
    if doc is None:
        raise ApiError(404, f"no stored analysis {result_id}")
    return StoredResult(
        **_model_result(doc).model_dump(),
        **{k: doc.get(k) for k in ("prompt", "prompt_version", "data_date", "tickers", "strategy", "raw_reply",
                                   "parse_error")},
        parse_errors=doc.get("parse_errors") or [], context=doc.get("context"),
    )
