"""The settings of the AI's scored predictions (issue 16): AI_PREDICT_*, AI_MODEL_* and AI_LEADERBOARD_*, a part
of the one Settings object (lib/config.py)."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

from lib.settings_base import SETTINGS_CONFIG, split_csv

MODEL_REF = re.compile(r"(gemini|openai):[A-Za-z0-9][A-Za-z0-9._/@-]{0,99}")  # provider:model
HORIZONS = (5, 10, 20)  # sessions ahead a prediction is about (issue 16)
MAX_WINDOW_DAYS = 36_500  # a century: a larger window would overflow the date arithmetic (0 already means all)


def _pairs(value: object, what: str) -> dict[str, str]:
    """'gemini:gemini-2.5-flash=2025-01-31, openai:gpt-4o=2023-10-01' as {model ref: value}."""
    if isinstance(value, dict):
        return value
    out: dict[str, str] = {}
    for part in split_csv(value):  # type: ignore[union-attr]
        ref, sep, right = part.partition("=")
        ref = ref.strip()
        if not sep or not MODEL_REF.fullmatch(ref) or not right.strip():
            raise ValueError(f"{part!r} is not provider:model={what}")
        out[ref] = right.strip()
    return out


class PredictSettings(BaseSettings):
    """Which models predict, for which stocks, what each model knew and cost, and when a model is ranked."""

    model_config = SETTINGS_CONFIG

    # provider:model pairs asked every evening; blank: ai_predict.py is off
    ai_predict_models: Annotated[list[str], NoDecode] = []
    ai_predict_strategies: Annotated[list[str], NoDecode] = ["rs_leaders"]
    ai_predict_watchlist: Annotated[list[str], NoDecode] = []
    ai_predict_max_per_day: int = Field(default=20, ge=1, le=500)
    # provider:model=YYYY-MM-DD: predictions for days before it are marked and never scored
    ai_model_knowledge_cutoffs: Annotated[dict[str, dt.date], NoDecode] = {}
    # provider:model=IN/OUT: USD per million input/output tokens, for the cost estimate
    ai_model_prices: Annotated[dict[str, tuple[float, float]], NoDecode] = {}
    ai_leaderboard_min_count: int = Field(default=30, ge=1, le=100_000)
    ai_leaderboard_windows: Annotated[list[int], NoDecode] = [30, 90, 365, 0]  # days back; 0: everything

    @field_validator("ai_predict_models", "ai_predict_strategies", "ai_predict_watchlist",
                     "ai_leaderboard_windows", mode="before")
    @classmethod
    def _predict_csv(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("ai_predict_models")
    @classmethod
    def _predict_model_refs(cls, value: list[str]) -> list[str]:
        bad = [ref for ref in value if not MODEL_REF.fullmatch(ref)]
        if bad:
            raise ValueError(f"{bad[0][:100]!r} is not provider:model (gemini:... or openai:...)")
        return list(dict.fromkeys(value))

    @field_validator("ai_predict_watchlist")
    @classmethod
    def _predict_tickers(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if not re.fullmatch(r"[A-Za-z0-9.\-]{1,12}", t)]
        if bad:
            raise ValueError(f"{bad[0][:20]!r} is not a ticker")
        return list(dict.fromkeys(value))

    @field_validator("ai_model_knowledge_cutoffs", mode="before")
    @classmethod
    def _predict_cutoffs(cls, value: object) -> Any:
        return _pairs(value, "YYYY-MM-DD")

    @field_validator("ai_model_prices", mode="before")
    @classmethod
    def _predict_prices(cls, value: object) -> Any:
        pairs = _pairs(value, "IN/OUT (USD per million tokens)")
        out = {}
        for ref, text in pairs.items():
            if isinstance(text, tuple | list):
                out[ref] = tuple(text)
                continue
            parts = str(text).split("/")
            try:
                prices = tuple(float(p) for p in parts)
            except ValueError:
                prices = ()
            if len(prices) != 2 or not all(math.isfinite(p) and p >= 0 for p in prices):  # nan/inf: no estimate
                raise ValueError(f"{ref}={text!r} is not IN/OUT USD per million tokens, e.g. 0.30/2.50")
            out[ref] = prices
        return out

    @field_validator("ai_leaderboard_windows")
    @classmethod
    def _predict_windows(cls, value: list[int]) -> list[int]:
        if not value or any(not 0 <= days <= MAX_WINDOW_DAYS for days in value):
            raise ValueError(f"name at least one window in days from 1 to {MAX_WINDOW_DAYS} (0 for everything)")
        return list(dict.fromkeys(value))
