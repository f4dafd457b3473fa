"""Data sources: the one interface and the fallback chain (chain.py), KRX's sources and their configuration.
The only code that imports pykrx (and yfinance)."""

from __future__ import annotations

from lib.config import Settings
from lib.errors import ConfigError
from lib.markets.krx.settings import krx_settings
from lib.markets.krx.source_base import MARKETS, DailyMarketSource
from lib.spine.chain import Attempt, DayUnavailable, Delivery, Request, Source, SourceChain

__all__ = [
    "MARKETS", "Attempt", "DailyMarketSource", "DayUnavailable", "Delivery", "Request", "Source", "SourceChain",
    "build_sources", "build_chain",
]


def build_sources(settings: Settings) -> list[DailyMarketSource]:
    """The configured KRX sources in order; a source missing what it needs is a ConfigError."""
    krx = krx_settings(settings)
    sources: list[DailyMarketSource] = []
    for name in krx.sources:
        if name == "krx_openapi":
            from lib.markets.krx.openapi import KrxOpenApiSource

            if krx.openapi_key is None:
                default = "" if "sources" in krx.model_fields_set else (
                    " (KRX_SOURCES is not set, so its default krx_openapi,pykrx applies)"
                )
                raise ConfigError(
                    f"KRX_SOURCES names krx_openapi{default}: set KRX_OPENAPI_KEY (openapi.krx.co.kr), or name "
                    "other sources in KRX_SOURCES"
                )
            sources.append(
                KrxOpenApiSource(
                    krx.openapi_key.get_secret_value(),
                    krx.openapi_url,
                    krx.request_timeout_seconds,
                )
            )
        elif name == "pykrx":
            from lib.markets.krx.pykrx_source import PykrxSource

            password = krx.pw.get_secret_value() if krx.pw else None
            sources.append(PykrxSource(krx.id, password, krx.request_timeout_seconds))
        elif name == "replay":
            from lib.markets.krx.replay import ReplaySource

            assert krx.replay_path is not None  # KrxSettings requires it; ReplaySource checks the file
            sources.append(ReplaySource(krx.replay_path))
    return sources


def build_chain(settings: Settings, **overrides: object) -> SourceChain:
    """A SourceChain over the configured KRX sources with the configured pacing."""
    krx = krx_settings(settings)
    return SourceChain(
        build_sources(settings),
        min_gap_seconds=krx.min_request_gap_seconds,
        max_attempts=krx.max_attempts,
        backoff_seconds=krx.retry_backoff_seconds,
        **overrides,  # type: ignore[arg-type]
    )
