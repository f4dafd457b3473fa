"""GET /strategies and GET /screener?strategy_name=...: picks on the latest or any stored day, with the
strategy's track record. Extra query parameters are the strategy's own (typed, bounded)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from api.deps import get_settings, get_storage
from lib.calendar import TradingCalendar
from lib.config import Settings
from lib.errors import ConfigError
from lib.screener import Registry, Strategy, analysis_frames, discover, screen, track_record
from lib.storage import Storage

router = APIRouter(tags=["screener"])


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The strategies found in strategies/ when the app started."""
    return discover()


def _strategy(registry: Registry, name: str) -> Strategy:
    try:
        return registry[name]
    except ConfigError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


def _describe(strategy: Strategy) -> dict[str, Any]:
    return {
        "name": strategy.name,
        "description": strategy.description,
        "lookback_sessions": strategy.lookback,
        "columns": list(strategy.columns),
        "params": strategy.params.model_json_schema()["properties"],
    }


@router.get("/strategies")
def strategies(registry: Annotated[Registry, Depends(get_registry)]) -> dict[str, Any]:
    """Every registered strategy with its parameters, and the plugin modules that were skipped."""
    return {
        "strategies": [_describe(s) for s in registry],
        "skipped": [{"module": m, "error": e} for m, e in registry.errors],
    }


@router.get("/screener")
def screener(
    request: Request,
    registry: Annotated[Registry, Depends(get_registry)],
    storage: Annotated[Storage, Depends(get_storage)],
    settings: Annotated[Settings, Depends(get_settings)],
    strategy_name: Annotated[str, Query(description="a name from GET /strategies")],
    date: Annotated[dt.date | None, Query(description="KST trading day; default the latest analysed")] = None,
) -> dict[str, Any]:
    """The stocks a strategy picks on a day, strongest first, with the strategy's track record."""
    strategy = _strategy(registry, strategy_name)
    extra = {k: v for k, v in request.query_params.items() if k not in ("strategy_name", "date")}
    unknown = set(extra) - set(strategy.params.model_fields)
    if unknown:
        raise HTTPException(status_code=422, detail=f"unknown parameter(s) for {strategy.name}: {sorted(unknown)}")
    try:
        params = strategy.parse_params(extra)
        calendar = TradingCalendar(settings.krx_extra_closed_days, settings.krx_extra_sessions)
        if date is not None and not calendar.is_session(date):
            raise ConfigError(f"{date} is not a KRX session")
    except ConfigError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    day, picks = screen(storage, calendar, strategy, params, date)
    if day is None:
        raise HTTPException(status_code=404, detail="nothing analysed yet: hourly_analysis has not run")
    names = {t["ticker"]: t for t in storage.universe()}
    if params == strategy.params() and (stored := storage.strategy_stats(strategy.name)):
        record = stored
    else:
        record = track_record(strategy, params, analysis_frames(storage, day))
    return {
        "strategy": strategy.name,
        "description": strategy.description,
        "date": day.isoformat(),
        "params": params.model_dump(),
        "count": len(picks),
        "picks": [
            {
                "ticker": p.ticker,
                "name": names.get(p.ticker, {}).get("name"),
                "market": names.get(p.ticker, {}).get("market"),
                "score": p.score,
                "values": p.values,
                "reason": p.reason,
            }
            for p in picks
        ],
        "track_record": record,
    }
