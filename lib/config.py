"""Settings: one pydantic-settings object read once from the environment and `.env`, then passed down."""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path
from typing import Annotated, Any, get_args

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lib.errors import ConfigError
from lib.log import get_logger

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KNOWN_SOURCES = ("krx_openapi", "pykrx", "replay")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting of the pipeline; `.env.example` documents each one."""

    # A blank value (`KRX_OPENAPI_KEY=` as .env.example leaves it) is an unset one.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False, env_ignore_empty=True
    )

    mongodb_uri: SecretStr | None = None
    mongodb_db_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,32}$")

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

    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

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

    @field_validator("krx_sources", "krx_extra_closed_days", "krx_extra_sessions", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("krx_sources")
    @classmethod
    def _known_sources(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError(f"name at least one source ({', '.join(KNOWN_SOURCES)})")
        unknown = [name for name in value if name not in KNOWN_SOURCES]
        if unknown:
            raise ValueError(f"unknown source {unknown[0]!r}; choose from {', '.join(KNOWN_SOURCES)}")
        if len(set(value)) != len(value):
            raise ValueError("a source is listed twice")
        return value

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
    def _source_requirements(self) -> Settings:
        if "replay" in self.krx_sources and self.krx_replay_path is None:
            raise ValueError("KRX_SOURCES names 'replay': set KRX_REPLAY_PATH to a parquet or CSV panel file")
        if self.krx_replay_path is not None and "replay" in self.krx_sources:
            path = self.krx_replay_path
            if not path.is_absolute():
                path = PROJECT_ROOT / path
            if not path.is_file():
                raise ValueError(f"KRX_REPLAY_PATH: no file at {path}")
            self.krx_replay_path = path
        return self

    @property
    def mongodb_uri_value(self) -> str | None:
        """The URI in clear text, for the db layer only (never log it)."""
        return self.mongodb_uri.get_secret_value() if self.mongodb_uri else None


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
