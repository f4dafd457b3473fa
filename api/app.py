"""The FastAPI application: routers, the common error shape, CORS, and what the routes share (settings,
registries, calendar, clock, the LLM factory) on app.state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import ai, context, dashboard, docs, etf, health, markets, predictions, prompts, sectors, status, stocks
from api import screener as screener_routes
from api.deps import ComputeSlots
from api.errors import install_error_handlers
from api.middleware import install_middleware
from lib.ai.llm import build_chat_model
from lib.ai.prompts import PromptRegistry, discover_prompts
from lib.analysis.screener import Registry, discover
from lib.config import Settings, check_api_settings, load_settings
from lib.log import get_logger
from lib.spine.datasets import Registry as Datasets
from lib.spine.registry import registry as installed_datasets
from lib.storage import Storage

DESCRIPTION = """Reads what the cron jobs computed: the KRX universe, each stock's bars and indicators, the
screeners' picks of any analysed day with their track records, and LLM analyses of picks.

Every error is `{"error": {"code", "message", "details"}}`. Read routes (this document and /docs included)
need `X-API-Key` only when the server sets API_KEYS_FOR_READS=true; POST /ai/analysis always needs one. A body
over the server's API_MAX_BODY_BYTES is refused with 413 before it is read. Every GET route answers HEAD."""


def create_app(
    settings: Settings | None = None,
    registry: Registry | None = None,
    prompt_registry: PromptRegistry | None = None,
    llm_factory: Callable[..., Any] | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    storage: Storage | None = None,
    datasets: Datasets | None = None,
) -> FastAPI:
    """Build the app. Everything defaults to production: settings from .env, plugins from their folders,
    LLMs from the settings, the wall clock, storage on MONGODB_URI, datasets from the registry (lib/markets)."""
    settings = settings or load_settings()
    check_api_settings(settings)  # a setting only the API uses stops the API, never the cron scripts
    # The docs routes are api/docs.py's: vendored UI files, and the read-key rule.
    app = FastAPI(
        title="KRX stock pipeline", version="0.2.0", description=DESCRIPTION, redirect_slashes=False,
        openapi_url=None, docs_url=None, redoc_url=None,
    )
    app.state.settings = settings
    app.state.registry = registry if registry is not None else discover()
    app.state.prompts = prompt_registry if prompt_registry is not None else discover_prompts()
    app.state.llm_factory = llm_factory or build_chat_model
    app.state.clock = clock or _wall_clock
    # The stock and screener routes read the datasets the screener's strategies pick from (the registry's), one
    # per market (`market=`, api/markets.py); the first (KRX's) is the default and its calendar is built now, the
    # others' on first use.
    app.state.datasets = datasets if datasets is not None else installed_datasets()
    screened = app.state.datasets.screened()
    app.state.calendar = screened.calendar(settings) if screened and screened.calendar else None
    app.state.calendars = {screened.market: app.state.calendar} if app.state.calendar is not None else {}
    app.state.compute_slots = ComputeSlots(settings.compute_slots)
    if storage is not None:
        app.state.storage = storage
    install_error_handlers(app)
    if settings.api_keys_for_reads and not settings.api_key_values:
        get_logger("api").warning(
            "API_KEYS_FOR_READS=true but API_KEYS is empty: every read route will answer 401; set API_KEYS"
        )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Content-Type"],
        )
    app.include_router(health.router)
    app.include_router(status.router)
    app.include_router(markets.router)
    app.include_router(stocks.router)
    app.include_router(context.router)
    app.include_router(screener_routes.make_router(app.state.registry))
    app.include_router(prompts.router)
    app.include_router(ai.router)
    app.include_router(predictions.router)
    app.include_router(etf.router)
    app.include_router(sectors.router)
    app.include_router(dashboard.router)
    app.include_router(docs.router)
    install_middleware(app, settings.api_max_body_bytes)
    docs.document_body_limit(app)
    return app


def _wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
