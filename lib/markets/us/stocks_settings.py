"""The US stocks' settings (issue 17): the universe from NASDAQ Trader's symbol files with a market-cap floor, the
daily bars shared by several workers through leases, the quarterly financials and the daily options summary.
US_* variables, mixed into UsSettings (lib/markets/us/settings.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode

from lib.settings_base import check_sources, split_csv

STOCKS_SOURCES = ("yfinance", "replay")


class UsStocksFields(BaseSettings):
    """US_STOCKS* and what reads the US stocks: financials, options."""

    stocks: bool = False  # us.stocks: the listed US common stocks' daily bars, screened like KRX's
    stocks_sources: Annotated[list[str], NoDecode] = ["yfinance"]  # yfinance | replay, in order
    # recorded answers: nasdaqlisted.txt, otherlisted.txt, profiles and bars (data/sample/us_stocks)
    stocks_replay_dir: Path | None = None
    min_market_cap: float = Field(default=2e9, ge=0)  # USD: the universe's floor, as KRX's 100 billion KRW
    universe_refresh_days: int = Field(default=7, ge=1, le=92)  # the symbol files and market caps, re-read weekly
    # stocks whose .info profile (sector, industry, shares) is read per refresh: joiners first, then the oldest
    profiles_per_run: int = Field(default=100, ge=0, le=10000)
    stocks_batch_size: int = Field(default=100, ge=1, le=500)  # tickers per yf.download call and per lease
    stocks_lease_seconds: int = Field(default=600, ge=30, le=6 * 3600)  # a worker's claim on a batch, renewed
    worker_id: str = ""  # how this host names itself in leases; blank: hostname:pid
    financials: bool = True  # us.financials (quarterly and annual statements), when US_STOCKS is on
    financials_replay_dir: Path | None = None  # recorded statements: us.financials replays them
    financials_lag_days: int = Field(default=45, ge=0, le=366)  # a period is known this long after its end
    financials_per_run: int = Field(default=200, ge=1, le=10000)  # tickers read per run, the oldest read first
    options_top_n: int = Field(default=50, ge=0, le=1000)  # us.options: the largest names' summary; 0: off
    options_replay_dir: Path | None = None  # recorded option chains: us.options replays them
    options_max_days: int = Field(default=45, ge=1, le=366)  # expirations within this many days are summarised

    @field_validator("stocks_sources", mode="before")
    @classmethod
    def _stocks_sources_csv(cls, value: object) -> object:
        return split_csv(value, str.lower)

    @field_validator("stocks_sources")
    @classmethod
    def _known_stocks_sources(cls, value: list[str]) -> list[str]:
        return check_sources(value, STOCKS_SOURCES)

    @model_validator(mode="after")
    def _stocks_replay_has_its_folder(self) -> UsStocksFields:
        if "replay" in self.stocks_sources and self.stocks_replay_dir is None:
            raise ValueError("US_STOCKS_SOURCES names 'replay': set US_STOCKS_REPLAY_DIR to a folder like "
                             "data/sample/us_stocks (bars/<TICKER>.csv)")
        return self
