"""GET /strategies, GET /strategies/{name} and GET /screener?strategy_name=...: the picks of any analysed day.

Default parameters are served from the picks the analysis job stored for the day (one indexed read). Any
other parameter computes from the lookback window of the day, and the track record from the history up to
the day, cached per process. Either way a day only ever sees data up to itself.

(No `from __future__ import annotations` here: the routes are built in make_router and FastAPI must resolve
their annotations, which name make_router's locals.)"""


import datetime as dt
import json
import threading
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from api.deps import ComputeAccess, ComputeDep, NowDep, RegistryDep, read_access
from api.errors import ApiError, clip, error_responses, not_found
from api.markets import MarketDep
from api.screener_models import (
    PickOut,
    ScreenerResult,
    SkippedPlugin,
    StrategyInfo,
    StrategyList,
    TrackRecord,
)
from api.types import IsoDate
from lib.analysis.history import analysis_history, stored_history
from lib.analysis.screener import Registry, Strategy, screen_history
from lib.display import priced_in
from lib.errors import ConfigError
from lib.storage import Storage
from lib.storage.dates import from_stored
from lib.storage.universe import listed_on

RESERVED = ("strategy_name", "date", "market")
_CACHE_SIZE = 64


def coerce_query(strategy: Strategy, values: dict[str, str]) -> BaseModel:
    """Strategy parameters from query-string text: numbers and booleans are read as JSON first, so that
    `fast=5` reaches a Literal[5, 20, ...] field as the int 5. A bad value is a ConfigError naming it."""
    parsed: dict[str, Any] = {}
    for name, raw in values.items():
        field = strategy.params.model_fields[name]
        if field.annotation is str:
            parsed[name] = raw
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        parsed[name] = value if isinstance(value, bool | int | float) else raw
    return strategy.parse_params(parsed)


def _strategy(registry: Registry, name: str) -> Strategy:
    try:
        return registry[name]
    except ConfigError:
        raise not_found("strategy", name, [s.name for s in registry], "GET /strategies lists them") from None


def _info(strategy: Strategy, storage: Storage | None) -> StrategyInfo:
    stats = storage.analysis.strategy_stats(strategy.name) if storage is not None else None
    return StrategyInfo(
        name=strategy.name,
        description=strategy.description,
        score_meaning=strategy.score_meaning,
        lookback_sessions=strategy.lookback,
        columns=list(strategy.columns),
        params_schema=strategy.params.model_json_schema(),
        track_record=TrackRecord(**stats) if stats else None,
    )


def _param_docs(registry: Registry) -> list[dict[str, Any]]:
    """OpenAPI query parameters for every strategy parameter name, saying which strategies take it."""
    by_name: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for strategy in registry:
        schema = strategy.params.model_json_schema()
        for name, prop in schema.get("properties", {}).items():
            if name not in RESERVED:
                by_name.setdefault(name, []).append((strategy.name, prop))
    params = []
    for name, owners in sorted(by_name.items()):
        shapes = []
        for _, prop in owners:
            shape = {k: v for k, v in prop.items() if k not in ("title", "description", "default")}
            if shape not in shapes:
                shapes.append(shape)
        lines = "; ".join(f"{owner}: {prop.get('description', '')} (default {prop.get('default')})"
                          for owner, prop in owners)
        params.append({
            "name": name, "in": "query", "required": False,
            "description": f"strategy parameter ({lines})",
            "schema": shapes[0] if len(shapes) == 1 else {"anyOf": shapes},
        })
    return params


def make_router(registry: Registry) -> APIRouter:
    """The strategy routes, with the registered strategy names as an enum in OpenAPI."""
    router = APIRouter(tags=["screener"], dependencies=[Depends(read_access)])
    names = [s.name for s in registry]
    name_schema = {"enum": names} if names else {}

    @router.get("/strategies", response_model=StrategyList, responses=error_responses(401, 422, 503))
    def strategies(registry: RegistryDep, scope: MarketDep) -> StrategyList:
        """Every registered strategy with the JSON schema of its parameters and its track record on the market's
        stocks (`market=`, default krx)."""
        return StrategyList(
            market=scope.name,
            strategies=[_info(s, scope.storage) for s in registry],
            skipped=[SkippedPlugin(module=m, error=e) for m, e in registry.errors],
        )

    @router.get(
        "/strategies/{name}", response_model=StrategyInfo, responses=error_responses(401, 404, 422, 503)
    )
    def strategy(
        registry: RegistryDep,
        scope: MarketDep,
        name: Annotated[str, Path(max_length=100, json_schema_extra=name_schema)],
    ) -> StrategyInfo:
        """One strategy: description, parameters (JSON schema), track record with default parameters on the
        market's stocks (`market=`, default krx)."""
        return _info(_strategy(registry, name), scope.storage)

    @router.get(
        "/screener",
        response_model=ScreenerResult,
        responses=error_responses(401, 404, 409, 422, 429, 503),
        openapi_extra={"parameters": _param_docs(registry)},
    )
    def screener(
        request: Request,
        registry: RegistryDep,
        scope: MarketDep,
        now: NowDep,
        compute: ComputeDep,
        strategy_name: Annotated[
            str, Query(max_length=100, description="a name from GET /strategies", json_schema_extra=name_schema)
        ],
        date: Annotated[
            IsoDate | None, Query(description="the market's trading day YYYY-MM-DD (a KST session for krx, a New "
                                              "York one for us); default: latest analysed")
        ] = None,
    ) -> ScreenerResult:
        """The stocks a strategy picks on a day among the market's stocks (`market=`, default krx: the same
        strategies on each market's own universe, prices in its currency), strongest first, with the strategy's
        track record on that market as of that day. Every other query parameter is one of the strategy's own (see
        GET /strategies/{name}).

        Default parameters are served from the stored picks. Other parameters are computed (then cached per
        worker): when every compute slot of the worker is busy, 503 with Retry-After at once; each computation
        counts against the client's hourly budget (429 with Retry-After over it)."""
        strategy = _strategy(registry, strategy_name)
        items = request.query_params.multi_items()
        extra: dict[str, str] = {}
        for key, value in items:
            if key in RESERVED:
                continue
            if key in extra:
                raise ApiError(422, f"parameter {clip(key, 40)} is given twice")
            extra[key] = value
        unknown = sorted(set(extra) - set(strategy.params.model_fields))
        if unknown:
            allowed = ", ".join(strategy.params.model_fields) or "none"
            raise ApiError(
                422, f"unknown parameter {clip(unknown[0], 40)!r} for {strategy.name}; it takes: {allowed}",
                {"unknown": [clip(u, 40) for u in unknown[:10]], "allowed": list(strategy.params.model_fields)},
            )
        try:
            params = coerce_query(strategy, extra)
        except ConfigError as exc:
            raise ApiError(422, clip(exc)) from None
        storage, calendar = scope.storage, scope.calendar
        day = resolve_day(storage, calendar, strategy.name, date, now.date(), scope.sessions, scope.analysis_command)
        with priced_in(scope.currency):  # the reasons of computed picks state prices in the market's currency
            result = with_changes(storage, screener_result(storage, calendar, strategy, params, day, compute))
        return result.model_copy(update={"market": scope.name, "currency": scope.currency})

    return router


def with_changes(storage: Storage, result: ScreenerResult) -> ScreenerResult:
    """The picks with each one's change on the day. Picks the analysis job stored since the change was added,
    and computed ones, carry it; picks stored before (no `change` key) get it from their last two analysed rows,
    one indexed read per pick (rows are the adjusted series, so a split is no change)."""
    if all("change" in pick.model_fields_set for pick in result.picks):
        return result
    picks = []
    for pick in result.picks:
        if "change" in pick.model_fields_set:
            picks.append(pick)
            continue
        rows = storage.analysis.recent_analysis(pick.ticker, 2, end=result.date)
        change = None
        if len(rows) == 2 and from_stored(rows[1]["date"]) == result.date:
            previous, close = rows[0].get("close"), rows[1].get("close")
            if previous and close is not None:
                change = close / previous - 1
        picks.append(pick.model_copy(update={"change": change}))
    return result.model_copy(update={"picks": picks})


_cache: OrderedDict[tuple[Any, ...], ScreenerResult] = OrderedDict()
_cache_lock = threading.Lock()


def screener_result(
    storage: Storage, calendar: Any, strategy: Strategy, params: BaseModel, day: dt.date,
    compute: ComputeAccess,
) -> ScreenerResult:
    """The picks of `day`: stored by the analysis job for default parameters (one read), else computed from
    data up to `day` and kept in a small per-process cache (keyed by the latest analysed day too). Computing
    takes a compute slot and charges the client (`compute`), refused at once when none is free."""
    if params == strategy.params() and (doc := storage.picks.daily_picks_for(strategy.name, day)) is not None:
        return ScreenerResult(description=strategy.description, score_meaning=strategy.score_meaning, source="stored",
                              **doc)
    state = storage.picks.picks_state() or {}
    _check_retained(storage, calendar, strategy, day, state)
    key = (id(storage.client), storage.prefix, storage.namespace, strategy.name,
           json.dumps(params.model_dump(), sort_keys=True), day,
           state.get("latest_day") or storage.analysis.latest_screening_day())
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    with compute.guard("this screen"):
        result = _compute(storage, calendar, strategy, params, day)
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def resolve_day(
    storage: Storage, calendar: Any, strategy: str | None, day: dt.date | None, today: dt.date,
    sessions: str = "KRX sessions", command: str = "hourly_analysis",
) -> dt.date:
    """The day asked for, or the latest complete one (of `strategy`'s stored picks, or of any); 404 for a day
    that never has data, 409 for one not analysed yet, each saying which days exist (`sessions`: the market's
    sessions in words; `command`: what analyses it)."""
    complete = storage.picks.latest_picks_day(strategy) if strategy else storage.picks.latest_analysis_day()
    state = storage.picks.picks_state()
    latest = complete or storage.analysis.latest_screening_day()
    first = dt.date.fromisoformat(state["first_day"]) if state else storage.analysis.first_screening_day()
    if latest is None or first is None:
        raise ApiError(409, f"nothing is analysed yet: {command} has not completed a day", code="not_ready")
    span = f"analysed days are the {sessions} {first}..{latest}"
    if day is None:
        return latest
    details = {"first_day": first.isoformat(), "latest_day": latest.isoformat()}
    try:
        session = calendar.is_session(day)
    except ConfigError:
        session = False
    if day < first:
        raise ApiError(404, f"no analysed data for {day}: {span}", details)
    if day > today:
        raise ApiError(404, f"{day} is in the future: {span}", details)
    if not session:
        raise ApiError(404, f"{day} is not a {sessions.removesuffix('s')}: {span}", details)
    if day > latest:
        raise ApiError(409, f"{day} is not analysed yet: {span}", details, code="not_ready")
    return day


def _check_retained(
    storage: Storage, calendar: Any, strategy: Strategy, day: dt.date, state: dict[str, Any]
) -> None:
    """404 for a custom screen of a day whose lookback window cleanup.py has removed from the screening index
    (RETENTION_SCREENING_DAYS): computed on what is left it would find fewer picks, not none."""
    first_row = storage.analysis.first_screening_day()
    analysed_from = state.get("first_day")
    if first_row is None or analysed_from is None or first_row <= dt.date.fromisoformat(analysed_from):
        return  # nothing was removed
    try:
        span = calendar.sessions_between(first_row, first_row + dt.timedelta(days=2 * strategy.lookback + 30))
    except ConfigError:
        return
    answerable = span[min(strategy.lookback, len(span)) - 1]
    if day < answerable:
        raise ApiError(
            404,
            f"{strategy.name} with custom parameters can be screened from {answerable} on: older screening rows "
            f"were removed by cleanup.py (RETENTION_SCREENING_DAYS); the default parameters' stored picks reach "
            f"back to {analysed_from}",
            {"first_day": answerable.isoformat()},
        )


def _described(strategy: Strategy, params: BaseModel) -> str:
    """The strategy's description, which names its default parameters, with the ones this answer changed."""
    defaults = strategy.params().model_dump()
    changed = [f"{k}={v}" for k, v in params.model_dump().items() if v != defaults.get(k)]
    if not changed:
        return strategy.description
    return f"{strategy.description} (with its default parameters; this answer used {', '.join(changed)})"


def _compute(
    storage: Storage, calendar: Any, strategy: Strategy, params: BaseModel, day: dt.date
) -> ScreenerResult:
    # One read of the analysed history up to the day serves both the picks and the track record, with one
    # signals computation per ticker: the column-wise copies of the strategy's columns when the analysis job
    # has stored them (one query), else every ticker's rows.
    frames = stored_history(storage, day, {"close", *strategy.columns})
    try:
        if frames is None:
            raise KeyError("no column-wise copies")
        picks, record = screen_history(strategy, params, frames, day)
    except KeyError:  # no copies, or the strategy reads a column it does not show: every column
        frames = stored_history(storage, day) or analysis_history(storage, day)
        picks, record = screen_history(strategy, params, frames, day)
    names = {t["ticker"]: t for t in storage.universe.universe()} if picks else {}
    return ScreenerResult(
        strategy=strategy.name,
        description=_described(strategy, params),
        score_meaning=strategy.score_meaning,
        date=day,
        params=params.model_dump(),
        source="computed",
        count=len(picks),
        picks=[
            PickOut(
                ticker=p.ticker, name=names.get(p.ticker, {}).get("name"), market=listed_on(names.get(p.ticker, {})),
                score=p.score, values=p.values, reason=p.reason, change=p.change,
            )
            for p in picks
        ],
        track_record=TrackRecord(as_of_date=day.isoformat(), **record),
    )
