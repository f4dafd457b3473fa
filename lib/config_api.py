"""The settings of the HTTP API and the LLM analysis (issue #7): a part of the one Settings object (lib/config.py
inherits them), and their checks when the API starts."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode

from lib.errors import ConfigError
from lib.settings_base import SETTINGS_CONFIG, blanks_unset, split_csv

MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}")  # an LLM model name, as a request may give it
# X-API-Key values shorter than this are open to guessing (`openssl rand -hex 24`, as .env.example says, is 48).
MIN_API_KEY_LENGTH = 16


class ApiSettings(BaseSettings):
    """API_*, AI_*, COMPUTE_*, CORS_ORIGINS, DASHBOARD_*, LLM_* and the LLM providers' keys."""

    model_config = SETTINGS_CONFIG

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
    # The context block every prompt gets (lib/ai/context.py): days of filings and of news before the analysed
    # day, items per stock of each kind (newest first), and the characters a title or snippet keeps.
    ai_context_disclosure_days: int = Field(default=30, ge=0, le=3650)
    ai_context_news_days: int = Field(default=7, ge=0, le=3650)
    ai_context_items_per_stock: int = Field(default=8, ge=0, le=100)
    ai_context_text_chars: int = Field(default=200, ge=20, le=2000)
    google_api_key: SecretStr | None = None
    gemini_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _blanks_are_unset(cls, data: Any) -> Any:
        return blanks_unset(cls, data)

    @field_validator("cors_origins", "llm_allowed_models", mode="before")
    @classmethod
    def _api_csv(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("api_keys", "google_api_key", "openai_api_key", mode="after")
    @classmethod
    def _stripped_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

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

    @property
    def api_key_values(self) -> list[str]:
        """The keys accepted in X-API-Key (API_KEYS, comma-separated); empty when unset."""
        raw = self.api_keys.get_secret_value() if self.api_keys else ""
        return [key.strip() for key in raw.split(",") if key.strip()]


def check_api_settings(settings: ApiSettings) -> None:
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
