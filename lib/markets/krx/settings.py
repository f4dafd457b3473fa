"""The KRX market's settings: KRX_* variables (and MARKET_CAP_THRESHOLD_KRW, its universe's bound), read from
`.env` and the environment next to the core settings; `krx_settings(settings)` hands them to KRX's code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from lib.settings_base import SETTINGS_CONFIG, MarketSettings, split_csv

if TYPE_CHECKING:
    from lib.config import Settings

# The ECOS series krx.macro knows how to read (cycle, name, unit: lib/markets/krx/ecos_series.py).
ECOS_SERIES = ("722Y001/0101000", "817Y002/010200000", "731Y001/0000001", "901Y009/0")


class KrxSettings(MarketSettings):
    """KOSPI and KOSDAQ: the sources and their credentials, pacing, calendar overrides and the universe's bound."""

    model_config = SettingsConfigDict(**SETTINGS_CONFIG, env_prefix="KRX_", populate_by_name=True)
    known_sources = ("krx_openapi", "pykrx", "replay")
    replay_from = ("replay_path", "a parquet or CSV panel file")

    sources: Annotated[list[str], NoDecode] = ["krx_openapi", "pykrx"]
    openapi_key: SecretStr | None = None
    openapi_url: str = "https://data-dbg.krx.co.kr/svc/apis/sto"
    id: str | None = None
    pw: SecretStr | None = None
    replay_path: Path | None = None
    # The universe is KRX's: its old name (no KRX_ prefix) is kept, so every .env written so far still works.
    market_cap_threshold_krw: int = Field(default=100_000_000_000, ge=0, validation_alias="MARKET_CAP_THRESHOLD_KRW")
    # What the AI reads (issue 15), each a watermark dataset that is off while its key (or replay folder) is blank.
    # The keys keep the names their providers give them (no KRX_ prefix).
    dart_api_key: SecretStr | None = Field(default=None, validation_alias="DART_API_KEY")
    disclosures_replay_dir: Path | None = None  # recorded OpenDART answers: krx.disclosures replays them
    dart_url: str = "https://opendart.fss.or.kr/api"  # OpenDART's API root (a local stub in tests)
    # How many days back krx.disclosures starts on its first run (later runs go on from their watermark).
    disclosures_first_days: int = Field(default=30, ge=0, le=3650)
    news: bool = True  # krx.news: the RSS feeds need no key; the Naver part runs when its id and secret are set
    naver_client_id: str | None = Field(default=None, validation_alias="NAVER_CLIENT_ID")
    naver_client_secret: SecretStr | None = Field(default=None, validation_alias="NAVER_CLIENT_SECRET")
    news_naver_url: str = "https://openapi.naver.com/v1/search/news.json"  # the Search API's news endpoint
    news_replay_dir: Path | None = None  # recorded Naver/RSS answers: krx.news replays them
    news_top_n: int = Field(default=30, ge=0, le=1000)  # Naver: the day's picks and this many largest caps
    # name=url of each finance RSS feed (its name is the item's `feed`); the two the issue names by default.
    news_rss_feeds: Annotated[dict[str, str], NoDecode] = {
        "hankyung": "https://www.hankyung.com/feed/finance",
        "maeil": "https://www.mk.co.kr/rss/50200011/",
    }
    ecos_api_key: SecretStr | None = Field(default=None, validation_alias="ECOS_API_KEY")
    macro_replay_dir: Path | None = None  # recorded ECOS answers: krx.macro replays them
    # ECOS series as STAT_CODE/ITEM_CODE, each one of ECOS_SERIES (lib/markets/krx/ecos_series.py: cycle, name).
    macro_series: Annotated[list[str], NoDecode] = Field(
        default="722Y001/0101000,817Y002/010200000,731Y001/0000001,901Y009/0", validate_default=True)
    macro_first_run_years: int = Field(default=3, ge=1, le=30)  # the first run reads this far back
    macro_reread_days: int = Field(default=90, ge=7, le=3660)  # each run reads observations this far back again

    @field_validator("macro_series", mode="before")
    @classmethod
    def _macro_series(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("macro_series")
    @classmethod
    def _ecos_series(cls, value: list[str]) -> list[str]:
        unknown = [code for code in value if code not in ECOS_SERIES]
        if unknown:
            raise ValueError(f"unknown ECOS series {unknown[0]!r}; choose from {', '.join(ECOS_SERIES)}")
        if len(set(value)) != len(value) or not value:
            raise ValueError("name each ECOS series once, at least one")
        return value

    @field_validator("news_rss_feeds", mode="before")
    @classmethod
    def _feeds_csv(cls, value: object) -> object:
        """'hankyung=https://...,maeil=https://...' as {name: url}; each a name and an http(s) URL."""
        if not isinstance(value, str):
            return value
        feeds: dict[str, str] = {}
        for part in split_csv(value):  # type: ignore[union-attr]
            name, _, url = part.partition("=")
            if not name.strip() or not url.strip().startswith(("http://", "https://")):
                raise ValueError(f"{part!r} is not name=URL (e.g. hankyung=https://www.hankyung.com/feed/finance)")
            feeds[name.strip().lower()] = url.strip()
        return feeds

def krx_settings(settings: Settings) -> KrxSettings:
    """The KRX settings of the loaded settings."""
    found = settings.market("krx")
    assert isinstance(found, KrxSettings)
    return found
