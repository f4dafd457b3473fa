"""What every settings class shares: the project folder, comma-separated lists, blank values as unset, and
`MarketSettings`, the base of each market's own settings (lib/markets/<market>/settings.py).

A market's class reads its variables with its own prefix (`env_prefix="KRX_"`: field `sources` is KRX_SOURCES)
from the same `.env` and environment as the core settings; lib/config.py finds it by scanning lib/markets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar, get_args

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# A blank value (`KRX_OPENAPI_KEY=` as .env.example leaves it) is an unset one.
SETTINGS_CONFIG = SettingsConfigDict(
    env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False, env_ignore_empty=True
)


def split_csv(value: object, case: Callable[[str], str] | None = None) -> object:
    """'a, b,,c' as ['a', 'b', 'c'] (each item through `case`, str.lower say, also in a list given as one)."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if case is not None and isinstance(value, list):
        return [case(str(item)) for item in value]
    return value


def check_sources(value: list[str], known: tuple[str, ...]) -> list[str]:
    """The source names, each known and listed once, at least one."""
    if not value:
        raise ValueError(f"name at least one source ({', '.join(known)})")
    unknown = [name for name in value if name not in known]
    if unknown:
        raise ValueError(f"unknown source {unknown[0]!r}; choose from {', '.join(known)}")
    if len(set(value)) != len(value):
        raise ValueError("a source is listed twice")
    return value


def blanks_unset(cls: type[BaseSettings], data: Any) -> Any:
    """The raw values with a blank secret or path turned into None (unset), so its default applies."""
    if isinstance(data, dict):
        for name, value in list(data.items()):
            field = cls.model_fields.get(name)
            blank = isinstance(value, str) and not value.strip()
            if blank and field is not None and {SecretStr, Path} & {field.annotation, *get_args(field.annotation)}:
                data[name] = None
    return data


def project_path(path: Path) -> Path:
    """A relative path from the settings as one inside the project folder."""
    return path if path.is_absolute() else PROJECT_ROOT / path


class MarketSettings(BaseSettings):
    """The settings every market has: its sources in order, the pacing of its requests and its calendar's
    overrides. A market's class sets `env_prefix`, `known_sources` and its defaults, and adds its own fields."""

    model_config = SETTINGS_CONFIG
    known_sources: ClassVar[tuple[str, ...]] = ()
    # The field the `replay` source reads and what it must name, e.g. ("replay_path", "a parquet or CSV file").
    replay_from: ClassVar[tuple[str, str] | None] = None

    sources: Annotated[list[str], NoDecode] = []
    min_request_gap_seconds: float = Field(default=1.0, ge=0, le=60)
    request_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    max_attempts: int = Field(default=3, ge=1, le=10)
    retry_backoff_seconds: float = Field(default=5.0, ge=0, le=600)
    extra_closed_days: Annotated[list[dt.date], NoDecode] = []
    extra_sessions: Annotated[list[dt.date], NoDecode] = []

    @classmethod
    def env_name(cls, field: str) -> str:
        """The variable a field is read from: its alias if it has one, else the prefix and its name."""
        alias = cls.model_fields[field].validation_alias
        if isinstance(alias, str):
            return alias.upper()
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Every variable this class reads, mapped to its field."""
        return {cls.env_name(field): field for field in cls.model_fields}

    @model_validator(mode="before")
    @classmethod
    def _blanks_are_unset(cls, data: Any) -> Any:
        return blanks_unset(cls, data)

    @field_validator("extra_closed_days", "extra_sessions", mode="before")
    @classmethod
    def _dates_csv(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("sources", mode="before")
    @classmethod
    def _sources_csv(cls, value: object) -> object:
        return split_csv(value, str.lower)

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, value: list[str]) -> list[str]:
        return check_sources(value, cls.known_sources)

    @model_validator(mode="after")
    def _replay_has_its_data(self) -> MarketSettings:
        if self.replay_from is not None and "replay" in self.sources:
            field, what = self.replay_from
            path = getattr(self, field)
            if path is None:
                raise ValueError(f"{self.env_name('sources')} names 'replay': set {self.env_name(field)} to {what}")
            # Whether it is there is checked when the source is built, once MongoDB is open, so a moved file is
            # a recorded and alerted stop (lib/spine/stops.py), not a silent settings error.
            setattr(self, field, project_path(path))
        return self
