"""The US market's settings (the ETF trend portfolio of etf_pipeline.py and monthly_rebalance.py): US_* variables
read from `.env` and the environment next to the core settings; `us_settings(settings)` hands them to its code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from lib.markets.us.stocks_settings import UsStocksFields
from lib.settings_base import SETTINGS_CONFIG, MarketSettings, split_csv

if TYPE_CHECKING:
    from lib.config import Settings

DEFAULT_SECTOR_ETFS = (
    "QQQ:Technology,XLF:Financial,XLV:Healthcare,XLY:Consumer Cyclical,XLC:Communication,XLI:Industrial,"
    "XLP:Consumer Defensive,XLU:Utilities,XLRE:Real Estate,XLB:Basic Materials"
)
TICKER = re.compile(r"[A-Z0-9.\-]{1,10}")
FRED_ID = re.compile(r"[A-Z0-9_]{1,30}")
FRED_UNITS = ("lin", "chg", "ch1", "pch", "pc1", "pca", "cch", "cca", "log")  # FRED's `units` values


def sector_pairs(value: str) -> dict[str, str]:
    """'QQQ:Technology,XLF:Financial' as {ticker: sector name}."""
    pairs: dict[str, str] = {}
    for part in split_csv(value):  # type: ignore[union-attr]
        ticker, sep, sector = part.partition(":")
        ticker = ticker.strip().upper()
        if not sep or not sector.strip() or not TICKER.fullmatch(ticker):
            raise ValueError(f"{part!r} is not TICKER:Sector name (e.g. XLF:Financial)")
        if ticker in pairs:
            raise ValueError(f"{ticker} is listed twice")
        pairs[ticker] = sector.strip()
    return pairs


class UsSettings(UsStocksFields, MarketSettings):
    """The followed ETFs (benchmarks and sectors), the portfolio's rules, Yahoo's pacing and XNYS overrides."""

    model_config = SettingsConfigDict(**SETTINGS_CONFIG, env_prefix="US_", populate_by_name=True)
    known_sources = ("yfinance", "replay")
    replay_from = ("replay_dir", "a folder like data/sample/us")

    sources: Annotated[list[str], NoDecode] = ["yfinance"]
    replay_dir: Path | None = None
    benchmark_etfs: Annotated[list[str], NoDecode] = ["SPY", "QQQ", "IWM", "EWY", "DIA", "SCHD"]
    sector_etfs: Annotated[dict[str, str], NoDecode] = Field(default=DEFAULT_SECTOR_ETFS, validate_default=True)
    benchmark: str = Field(default="SPY", pattern=r"^[A-Z0-9.\-]{1,10}$")
    top_holdings: int = Field(default=5, ge=1, le=10)
    holdings_refresh_days: int = Field(default=7, ge=1, le=92)
    holdings_stale_days: int = Field(default=92, ge=1, le=3660)  # a snapshot known but older: marked stale
    # The annual risk-free rate (a fraction) the top-holdings Sharpe ratios subtract; 0 = plain return / volatility.
    risk_free_rate: float = Field(default=0.0, ge=0.0, le=0.2)
    first_run_sessions: int = Field(default=25, ge=1, le=2000)
    publish_delay_minutes: int = Field(default=60, ge=0, le=24 * 60)
    min_request_gap_seconds: float = Field(default=5.0, ge=0, le=60)  # the seed: 5 s between requests
    rate_limit_backoff_seconds: float = Field(default=60.0, ge=0, le=3600)
    yfinance_http: str = Field(default="curl_cffi", pattern=r"^(curl_cffi|requests)$")
    yfinance_cache_dir: Path | None = None
    # What the AI reads (issue 15), each a watermark dataset.
    news: bool = True  # us.news from Yahoo (no key): the followed ETFs' top holdings' headlines
    news_replay_dir: Path | None = None  # recorded Yahoo news answers: us.news replays them
    news_count: int = Field(default=20, ge=1, le=100)  # articles asked per ticker (yfinance's default is 10)
    news_etfs: bool = True  # also the followed ETFs' own news (market-wide headlines), not only their holdings'
    fred_api_key: SecretStr | None = Field(default=None, validation_alias="FRED_API_KEY")  # its provider's name
    macro_replay_dir: Path | None = None  # recorded FRED answers: us.macro replays them
    # FRED series ids, each with its units after a colon (pc1: % change from a year ago; default lin).
    macro_series: Annotated[list[str], NoDecode] = Field(
        default="CPIAUCSL:pc1,T10Y2Y,DFF,DGS10,VIXCLS,DEXKOUS", validate_default=True)
    macro_first_run_years: int = Field(default=3, ge=1, le=30)  # the first run reads this far back
    macro_reread_days: int = Field(default=400, ge=7, le=3660)  # each run reads observations this far back again

    @field_validator("benchmark_etfs", mode="before")
    @classmethod
    def _tickers_csv(cls, value: object) -> object:
        return split_csv(value, str.upper)

    @field_validator("benchmark_etfs")
    @classmethod
    def _tickers(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least the benchmark ETF (SPY)")
        bad = [t for t in value if not TICKER.fullmatch(t)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a ticker")
        if len(set(value)) != len(value):
            raise ValueError("a ticker is listed twice")
        return value

    @field_validator("macro_series", mode="before")
    @classmethod
    def _macro_series(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("macro_series")
    @classmethod
    def _fred_series(cls, value: list[str]) -> list[str]:
        ids = []
        for entry in value:
            series, _, units = entry.partition(":")
            if not FRED_ID.fullmatch(series) or (units and units not in FRED_UNITS):
                raise ValueError(f"{entry!r} is not a FRED series id with optional units (e.g. CPIAUCSL:pc1; "
                                 f"units one of {', '.join(FRED_UNITS)})")
            ids.append(series)
        if len(set(ids)) != len(ids):
            raise ValueError("a FRED series is listed twice")
        if not ids:
            raise ValueError("name at least one FRED series (or leave FRED_API_KEY blank to turn us.macro off)")
        return value

    @field_validator("sector_etfs", mode="before")
    @classmethod
    def _sector_etfs(cls, value: object) -> object:
        return sector_pairs(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _benchmark_is_followed(self) -> UsSettings:
        if self.benchmark not in self.benchmark_etfs:
            raise ValueError(f"US_BENCHMARK {self.benchmark} must be one of US_BENCHMARK_ETFS")
        return self


def us_settings(settings: Settings) -> UsSettings:
    """The US settings of the loaded settings."""
    found = settings.market("us")
    assert isinstance(found, UsSettings)
    return found
