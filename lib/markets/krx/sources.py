"""Data sources: the one interface and the fallback chain (chain.py), KRX's sources and their configuration.
The only code that imports pykrx (and yfinance)."""

from __future__ import annotations

from lib.config import Settings
from lib.errors import ConfigError
from lib.markets.krx.source_base import MARKETS, DailyMarketSource
from lib.spine.chain import Attempt, DayUnavailable, Delivery, Request, Source, SourceChain

__all__ = [
    "MARKETS", "Attempt", "DailyMarketSource", "DayUnavailable", "Delivery", "Request", "Source", "SourceChain",
    "build_sources", "build_chain",
]


def build_sources(settings: Settings) -> list[DailyMarketSource]:
    """The configured KRX sources in order; a source missing what it needs is a ConfigError."""
    sources: list[DailyMarketSource] = []
    for name in settings.krx_sources:
        if name == "krx_openapi":
            from lib.markets.krx.openapi import KrxOpenApiSource

            if settings.krx_openapi_key is None:
                default = "" if "krx_sources" in settings.model_fields_set else (
                    " (KRX_SOURCES is not set, so its default krx_openapi,pykrx applies)"
                )
                raise ConfigError(
                    f"KRX_SOURCES names krx_openapi{default}: set KRX_OPENAPI_KEY (openapi.krx.co.kr), or name "
                    "other sources in KRX_SOURCES"
                )
            sources.append(
                KrxOpenApiSource(
                    settings.krx_openapi_key.get_secret_value(),
                    settings.krx_openapi_url,
                    settings.krx_request_timeout_seconds,
                )
            )
        elif name == "pykrx":
            from lib.markets.krx.pykrx_source import PykrxSource

            password = settings.krx_pw.get_secret_value() if settings.krx_pw else None
            sources.append(PykrxSource(settings.krx_id, password, settings.krx_request_timeout_seconds))
        elif name == "replay":
            from lib.markets.krx.replay import ReplaySource

            assert settings.krx_replay_path is not None  # Settings requires it; ReplaySource checks the file
            sources.append(ReplaySource(settings.krx_replay_path))
    return sources


def build_chain(settings: Settings, **overrides: object) -> SourceChain:
    """A SourceChain over the configured KRX sources with the configured pacing."""
    return SourceChain(
        build_sources(settings),
        min_gap_seconds=settings.krx_min_request_gap_seconds,
        max_attempts=settings.krx_max_attempts,
        backoff_seconds=settings.krx_retry_backoff_seconds,
        **overrides,  # type: ignore[arg-type]
    )
