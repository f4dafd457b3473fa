"""Settings: one pydantic-settings object read once from the environment and `.env`, then passed down."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lib.errors import ConfigError
from lib.log import get_logger

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KNOWN_SOURCES = ("krx_openapi", "pykrx", "replay")
KNOWN_US_SOURCES = ("yfinance", "replay")
DEFAULT_SECTOR_ETFS = (
    "QQQ:Technology,XLF:Financial,XLV:Healthcare,XLY:Consumer Cyclical,XLC:Communication,XLI:Industrial,"
    "XLP:Consumer Defensive,XLU:Utilities,XLRE:Real Estate,XLB:Basic Materials"
)
# 252 sessions of 52-week indicators plus 20 sessions of track-record horizon, in calendar days, with margin.
MIN_PRICE_RETENTION_DAYS = 400
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}")  # an LLM model name, as a request may give it
# X-API-Key values shorter than this are open to guessing (`openssl rand -hex 24`, as .env.example says, is 48).
MIN_API_KEY_LENGTH = 16


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


MARKET_NAMES = ("krx", "us")


def _check_sources(value: list[str], known: tuple[str, ...]) -> list[str]:
    if not value:
        raise ValueError(f"name at least one source ({', '.join(known)})")
    unknown = [name for name in value if name not in known]
    if unknown:
        raise ValueError(f"unknown source {unknown[0]!r}; choose from {', '.join(known)}")
    if len(set(value)) != len(value):
        raise ValueError("a source is listed twice")
    return value


def _sector_pairs(value: str) -> dict[str, str]:
    """'QQQ:Technology,XLF:Financial' as {ticker: sector name}."""
    pairs: dict[str, str] = {}
    for part in _split_csv(value):  # type: ignore[union-attr]
        ticker, sep, sector = part.partition(":")
        ticker = ticker.strip().upper()
        if not sep or not sector.strip() or not re.fullmatch(r"[A-Z0-9.\-]{1,10}", ticker):
            raise ValueError(f"{part!r} is not TICKER:Sector name (e.g. XLF:Financial)")
        if ticker in pairs:
            raise ValueError(f"{ticker} is listed twice")
        pairs[ticker] = sector.strip()
    return pairs


class Settings(BaseSettings):
    """Every setting of the pipeline; `.env.example` documents each one."""

    # A blank value (`KRX_OPENAPI_KEY=` as .env.example leaves it) is an unset one.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False, env_ignore_empty=True
    )

    mongodb_uri: SecretStr | None = None
    mongodb_db_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,32}$")
    # The scripts' bound on one MongoDB operation (a stalled server fails the run instead of hanging it).
    mongodb_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)

    # The markets this install runs (krx, us); empty: every market set up so far (check_db only asks for those).
    markets: Annotated[list[str], NoDecode] = []
    krx_sources: Annotated[list[str], NoDecode] = ["krx_openapi", "pykrx"]
    krx_openapi_key: SecretStr | None = None
    krx_openapi_url: str = "https://data-dbg.krx.co.kr/svc/apis/sto"
    krx_id: str | None = None
    krx_pw: SecretStr | None = None
    krx_replay_path: Path | None = None
    krx_min_request_gap_seconds: float = Field(default=1.0, ge=0, le=60)
    krx_request_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    krx_max_attempts: int = Field(default=3, ge=1, le=10)
    krx_retry_backoff_seconds: float = Field(default=5.0, ge=0, le=600)
    krx_extra_closed_days: Annotated[list[dt.date], NoDecode] = []
    krx_extra_sessions: Annotated[list[dt.date], NoDecode] = []

    market_cap_threshold_krw: int = Field(default=100_000_000_000, ge=0)
    setup_history_sessions: int = Field(default=300, ge=1, le=5000)
    missing_day_grace_days: int = Field(default=7, ge=1, le=60)
    lock_timeout_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    analysis_quota_per_run: int = Field(default=400, ge=1, le=100_000)
    analysis_deadline_minutes: float = Field(default=50.0, gt=0, le=24 * 60)

    # US ETF trend portfolio (etf_pipeline.py, monthly_rebalance.py)
    us_sources: Annotated[list[str], NoDecode] = ["yfinance"]
    us_replay_dir: Path | None = None
    us_benchmark_etfs: Annotated[list[str], NoDecode] = ["SPY", "QQQ", "IWM", "EWY", "DIA", "SCHD"]
    us_sector_etfs: Annotated[dict[str, str], NoDecode] = Field(default=DEFAULT_SECTOR_ETFS, validate_default=True)
    us_benchmark: str = Field(default="SPY", pattern=r"^[A-Z0-9.\-]{1,10}$")
    us_top_holdings: int = Field(default=5, ge=1, le=10)
    us_holdings_refresh_days: int = Field(default=7, ge=1, le=92)
    us_holdings_stale_days: int = Field(default=92, ge=1, le=3660)  # a snapshot known but older: marked stale
    us_first_run_sessions: int = Field(default=25, ge=1, le=2000)
    us_publish_delay_minutes: int = Field(default=60, ge=0, le=24 * 60)
    us_min_request_gap_seconds: float = Field(default=5.0, ge=0, le=60)  # the seed: 5 s between requests
    us_request_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    us_max_attempts: int = Field(default=3, ge=1, le=10)
    us_retry_backoff_seconds: float = Field(default=5.0, ge=0, le=600)
    us_rate_limit_backoff_seconds: float = Field(default=60.0, ge=0, le=3600)
    us_yfinance_http: str = Field(default="curl_cffi", pattern=r"^(curl_cffi|requests)$")
    us_yfinance_cache_dir: Path | None = None
    us_extra_closed_days: Annotated[list[dt.date], NoDecode] = []
    us_extra_sessions: Annotated[list[dt.date], NoDecode] = []

    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    log_warnings_file: Path | None = None

    # Retention, in days (0 keeps forever); see lib/ops/cleanup.py for what each kind protects.
    retention_prices_days: int = Field(default=0, ge=0, le=100_000)
    retention_screening_days: int = Field(default=365, ge=0, le=100_000)
    retention_runs_days: int = Field(default=90, ge=0, le=100_000)
    retention_alerts_days: int = Field(default=180, ge=0, le=100_000)
    retention_picks_days: int = Field(default=365, ge=0, le=100_000)
    retention_ai_days: int = Field(default=365, ge=0, le=100_000)
    retention_rejected_days: int = Field(default=365, ge=0, le=100_000)

    # Status and alerts.
    stale_after_sessions: int = Field(default=2, ge=1, le=60)
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = Field(default=None, validate_default=True)
    telegram_api_url: str = "https://api.telegram.org"
    alert_webhook_url: SecretStr | None = None
    alert_strategies: Annotated[list[str], NoDecode] = []
    alert_max_age_days: int = Field(default=3, ge=1, le=60, validate_default=True)
    alert_max_attempts: int = Field(default=3, ge=1, le=20)
    alert_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    # --- HTTP API and LLM analysis (issue #7) ---
    api_keys: SecretStr | None = None
    api_keys_for_reads: bool = False
    # Bodies over this are refused (413) before any route reads them; the largest real one is a few KB.
    api_max_body_bytes: int = Field(default=65_536, ge=1024, le=100_000_000)
    api_db_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    ai_rate_limit_per_hour: int = Field(default=30, ge=1, le=100_000)
    compute_slots: int = Field(default=2, ge=1, le=64)
    compute_rate_limit_per_hour: int = Field(default=120, ge=1, le=100_000)
    ai_max_tickers: int = Field(default=10, ge=1, le=50)
    cors_origins: Annotated[list[str], NoDecode] = []
    # The dashboard's colours for a rise and a fall: kr = red up, blue down (as Korean brokers show them);
    # us = green up, red down. One convention for the whole page.
    dashboard_up_color_convention: Literal["kr", "us"] = "kr"
    llm_provider: Literal["gemini", "openai"] = "gemini"
    llm_model: str = Field(default="", max_length=100)
    llm_allowed_models: Annotated[list[str], NoDecode] = []
    llm_temperature: float = Field(default=0.2, ge=0, le=2)
    llm_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    llm_sdk_retries: int = Field(default=1, ge=0, le=5)
    llm_parse_retries: int = Field(default=2, ge=0, le=5)
    google_api_key: SecretStr | None = None
    gemini_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _blank_secrets_are_unset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in list(data.items()):
                field = cls.model_fields.get(name)
                blank = isinstance(value, str) and not value.strip()
                if blank and field is not None and SecretStr in (field.annotation, *get_args(field.annotation)):
                    data[name] = None
        return data

    @field_validator(
        "markets", "krx_sources", "krx_extra_closed_days", "krx_extra_sessions", "alert_strategies",
        "us_extra_closed_days", "us_extra_sessions", "cors_origins", "llm_allowed_models", mode="before",
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("markets")
    @classmethod
    def _known_markets(cls, value: list[str]) -> list[str]:
        value = [name.lower() for name in value]
        unknown = [name for name in value if name not in MARKET_NAMES]
        if unknown:
            raise ValueError(f"unknown market {unknown[0]!r}; choose from {', '.join(MARKET_NAMES)}")
        return list(dict.fromkeys(value))

    @field_validator("krx_sources")
    @classmethod
    def _known_sources(cls, value: list[str]) -> list[str]:
        return _check_sources(value, KNOWN_SOURCES)

    @field_validator("us_sources", mode="before")
    @classmethod
    def _us_sources_csv(cls, value: object) -> object:
        value = _split_csv(value)
        return [str(v).lower() for v in value] if isinstance(value, list) else value

    @field_validator("us_benchmark_etfs", mode="before")
    @classmethod
    def _tickers_csv(cls, value: object) -> object:
        value = _split_csv(value)
        return [str(v).upper() for v in value] if isinstance(value, list) else value

    @field_validator("us_sources")
    @classmethod
    def _known_us_sources(cls, value: list[str]) -> list[str]:
        return _check_sources(value, KNOWN_US_SOURCES)

    @field_validator("us_sector_etfs", mode="before")
    @classmethod
    def _sector_etfs(cls, value: object) -> object:
        return _sector_pairs(value) if isinstance(value, str) else value

    @field_validator("us_benchmark_etfs")
    @classmethod
    def _tickers(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least the benchmark ETF (SPY)")
        bad = [t for t in value if not re.fullmatch(r"[A-Z0-9.\-]{1,10}", t)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a ticker")
        if len(set(value)) != len(value):
            raise ValueError("a ticker is listed twice")
        return value

    @field_validator(
        "telegram_bot_token", "alert_webhook_url", "api_keys", "google_api_key", "openai_api_key", mode="after"
    )
    @classmethod
    def _blank_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("telegram_chat_id", "log_warnings_file", "us_replay_dir", "us_yfinance_cache_dir", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("telegram_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("retention_prices_days")
    @classmethod
    def _prices_cover_indicators(cls, value: int) -> int:
        if 0 < value < MIN_PRICE_RETENTION_DAYS:
            raise ValueError(
                f"keep at least {MIN_PRICE_RETENTION_DAYS} days of prices (the 52-week indicators and 20-session "
                "track records need them), or 0 to keep them forever"
            )
        return value

    @field_validator("gemini_base_url", "openai_base_url")
    @classmethod
    def _llm_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.strip().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.strip().rstrip("/")

    @field_validator("llm_allowed_models")
    @classmethod
    def _model_names(cls, value: list[str]) -> list[str]:
        bad = [name for name in value if not MODEL_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"{bad[0][:100]!r} is not a model name (letters, digits and ._:/@- only)")
        return list(dict.fromkeys(value))

    @field_validator("mongodb_uri")
    @classmethod
    def _uri_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        raw = value.get_secret_value().strip()
        if not raw.startswith(("mongodb://", "mongodb+srv://", "mongomock://")):
            raise ValueError("must start with mongodb://, mongodb+srv:// or mongomock://")
        return SecretStr(raw)

    @model_validator(mode="after")
    def _us_requirements(self) -> Settings:
        if self.us_benchmark not in self.us_benchmark_etfs:
            raise ValueError(f"US_BENCHMARK {self.us_benchmark} must be one of US_BENCHMARK_ETFS")
        if "replay" in self.us_sources:
            if self.us_replay_dir is None:
                raise ValueError("US_SOURCES names 'replay': set US_REPLAY_DIR to a folder like data/sample/us")
            # Whether the folder is there is checked when the source is built, once MongoDB is open, so a
            # moved folder is a recorded and alerted stop (lib/spine/stops.py), not a silent settings error.
            folder = self.us_replay_dir
            self.us_replay_dir = folder if folder.is_absolute() else PROJECT_ROOT / folder
        return self

    @model_validator(mode="after")
    def _source_requirements(self) -> Settings:
        if "replay" in self.krx_sources and self.krx_replay_path is None:
            raise ValueError("KRX_SOURCES names 'replay': set KRX_REPLAY_PATH to a parquet or CSV panel file")
        if self.krx_replay_path is not None and "replay" in self.krx_sources:
            # Whether the file is there is checked by ReplaySource, once MongoDB is open (a recorded stop).
            path = self.krx_replay_path
            self.krx_replay_path = path if path.is_absolute() else PROJECT_ROOT / path
        return self

    @field_validator("telegram_chat_id", mode="after")
    @classmethod
    def _telegram_pair(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (info.data.get("telegram_bot_token") is None) != (value is None):
            raise ValueError("set both TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID for Telegram alerts, or neither")
        return value

    @field_validator("alert_max_age_days", mode="after")
    @classmethod
    def _alerts_outlive_their_window(cls, value: int, info: ValidationInfo) -> int:
        kept = info.data.get("retention_alerts_days")
        if kept and kept <= value:
            raise ValueError(
                f"must be shorter than RETENTION_ALERTS_DAYS ({kept}), or an event could be alerted twice after "
                "its record is deleted (RETENTION_ALERTS_DAYS=0 keeps alert records forever)"
            )
        return value

    @model_validator(mode="after")
    def _absolute_paths(self) -> Settings:
        if self.log_warnings_file is not None and not self.log_warnings_file.is_absolute():
            self.log_warnings_file = PROJECT_ROOT / self.log_warnings_file
        return self

    @property
    def api_key_values(self) -> list[str]:
        """The keys accepted in X-API-Key (API_KEYS, comma-separated); empty when unset."""
        raw = self.api_keys.get_secret_value() if self.api_keys else ""
        return [key.strip() for key in raw.split(",") if key.strip()]

    @property
    def mongodb_uri_value(self) -> str | None:
        """The URI in clear text, for the db layer only (never log it)."""
        return self.mongodb_uri.get_secret_value() if self.mongodb_uri else None


def check_api_settings(settings: Settings) -> None:
    """The settings only the API uses, checked when it starts (not by the cron scripts, so that an API setting
    never stops the data collection): API_KEYS long enough, and AI spend rules under which a request can run."""
    keys = [key.strip() for key in settings.api_keys.get_secret_value().split(",")] if settings.api_keys else []
    for number, key in enumerate(keys, 1):
        if key and len(key) < MIN_API_KEY_LENGTH:
            # Never name the key itself: only where it is in the list and how short it is.
            where = f"key {number} of {len(keys)}" if len(keys) > 1 else "the key"
            size = f"{len(key)} character" + ("s" if len(key) != 1 else "")
            raise ConfigError(
                f"setting API_KEYS: {where} is only {size} long; each key needs at least {MIN_API_KEY_LENGTH} (a "
                "short key can be guessed): make one with `openssl rand -hex 24`; fix it in .env or the environment"
            )
    if settings.llm_allowed_models and settings.llm_model and settings.llm_model not in settings.llm_allowed_models:
        raise ConfigError(
            f"setting LLM_MODEL: {settings.llm_model} must be one of LLM_ALLOWED_MODELS (or leave that empty); fix "
            "it in .env or the environment"
        )
    # The rate limit reserves every attempt a model may need before asking it: below that, nothing could run.
    if settings.ai_rate_limit_per_hour < settings.llm_parse_retries + 1:
        raise ConfigError(
            f"setting AI_RATE_LIMIT_PER_HOUR: {settings.ai_rate_limit_per_hour} is below the calls one model may "
            f"need (LLM_PARSE_RETRIES + 1 = {settings.llm_parse_retries + 1}): no analysis could run; fix it in "
            ".env or the environment"
        )


def load_settings(env_file: Path | str | None = PROJECT_ROOT / ".env", **overrides: object) -> Settings:
    """Read settings once; a bad value becomes one ConfigError line that says what to set. Keys in the .env
    file that are not settings but look like one get a warning naming the closest setting."""
    if env_file is not None:
        warn_unknown_keys(Path(env_file))
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        where = f"setting {name.upper()}: " if name else ""
        raise ConfigError(f"{where}{message}; fix it in .env or the environment{more}") from None


def warn_unknown_keys(env_file: Path) -> list[str]:
    """Warn about each key of the .env file that is no setting but looks like one (a typo: KRX_SOURCE,
    KRX_MIN_REQUEST_GAP_SECOND), naming the closest setting; returns the warnings."""
    if not env_file.is_file():
        return []
    from dotenv import dotenv_values

    names = [name.upper() for name in Settings.model_fields]
    prefixes = {name.split("_")[0] for name in names}
    warnings = []
    for key in dotenv_values(env_file):
        upper = key.upper()
        if upper in names:
            continue
        close = difflib.get_close_matches(upper, names, n=1, cutoff=0.75)
        if close:
            warnings.append(f"{env_file.name}: {key} is not a setting and is ignored; did you mean {close[0]}?")
        elif upper.split("_")[0] in prefixes:
            warnings.append(f"{env_file.name}: {key} is not a setting and is ignored (.env.example lists them all)")
    for warning in warnings:
        get_logger("config").warning("%s", warning)
    return warnings
