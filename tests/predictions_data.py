"""Stored predictions and leaderboard rows in the documented shapes (lib/storage/predictions.py; a row as
lib/ai/evaluate_board.py writes it: counts, spend, and `scores`), built on the
small real panel's closes: each outcome is the stock's real close-to-close return N sessions on and the median of
the panel's 23 stocks over the same sessions. The models are test-only stand-ins of known skill (one reads the
future, one always says 0.5); their leaderboard rows are lib/ai/scoring.py's scores of those predictions."""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import cache
from typing import Any

import pandas as pd

from lib.ai.scoring import Scored, score
from lib.storage import Storage
from lib.storage.predictions import prediction_id
from tests.conftest import PANEL

PROMPT, VERSION = "stock_outlook", "1"
FUTURE = "gemini:gemini-2.5-flash"  # stand-in that reads the future: 0.8 when the stock beat, else 0.2
CONSTANT = "openai:gpt-4o-mini"  # stand-in that always says 0.5


@cache
def closes() -> pd.DataFrame:
    """Close by session (rows) and ticker (columns) of the small real panel."""
    panel = pd.read_parquet(PANEL)
    frame = panel.pivot(index="date", columns="ticker", values="close").sort_index()
    frame.index = [dt.date.fromisoformat(str(d)[:10]) for d in frame.index]
    return frame


def outcome(day: dt.date, ticker: str, horizon: int) -> dict[str, Any] | None:
    """The real outcome of `ticker` from `day` over `horizon` sessions of the panel; None when not over yet."""
    frame = closes()
    days = list(frame.index)
    at = days.index(day)
    if at + horizon >= len(days):
        return None
    end = days[at + horizon]
    returns = (frame.loc[end] / frame.loc[day] - 1).dropna()
    median = float(returns.median())
    forward = float(returns[ticker])
    return {"end_day": end.isoformat(), "forward_return": forward, "median_return": median,
            "excess_return": forward - median, "beat": forward > median, "universe": int(len(returns)),
            "scored_utc": dt.datetime(2025, 1, 2, 11, 0)}


def prediction(day: dt.date, ticker: str, model_ref: str, *, probability: float | None = None,
               reason: str = "Closed above its 20-day average on rising volume.", late: bool = False,
               memorised: bool = False, status: str = "ok", with_outcomes: bool = True) -> dict[str, Any]:
    """One prediction document; its outcomes are the real ones for the horizons over by the panel's end."""
    made = dt.datetime.combine(day, dt.time(12, 30))  # 21:30 KST, before the next open
    doc: dict[str, Any] = {
        "_id": prediction_id(day, ticker, model_ref, PROMPT, VERSION), "day": day.isoformat(), "market": "KOSPI",
        "ticker": ticker, "provider": model_ref.split(":")[0], "model": model_ref.split(":")[1],
        "model_ref": model_ref, "prompt": PROMPT, "prompt_version": VERSION, "input_digest": "sha256:" + "0" * 16,
        "context_ids": ["dart:20241202000123"], "cutoff_utc": dt.datetime.combine(day, dt.time(14, 59)),
        "made_utc": made + (dt.timedelta(hours=12) if late else dt.timedelta()),
        "deadline_utc": dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0)), "late": late,
        "memorised": memorised, "status": status, "error": None if status == "ok" else "HTTP 503 from provider",
        "error_kind": None if status == "ok" else "transient", "parse_ok": status == "ok", "attempts": 1,
        "model_calls": 1, "usage": {"input_tokens": 1800, "output_tokens": 120, "total_tokens": 1920},
        "cost_usd": 0.00084, "latency_ms": 2300, "horizons": {}, "outcomes": {},
    }
    if status != "ok":
        return doc
    for horizon in (5, 10, 20):
        real = outcome(day, ticker, horizon)
        p = probability if probability is not None else (0.8 if real and real["beat"] else 0.2)
        doc["horizons"][str(horizon)] = {"probability": p, "direction": "up" if p >= 0.5 else "down",
                                         "reason": reason, "citations": ["dart:20241202000123"]}
        if with_outcomes and real and not late and not memorised:
            doc["outcomes"][str(horizon)] = real
    return doc


def leaderboard_row(model_ref: str, horizon: int, window: int, days: list[dt.date], min_count: int,
                    rank: int | None) -> dict[str, Any]:
    """A leaderboard row of a stand-in over `days` x the panel's stocks, scored by lib/ai/scoring.py."""
    scored = []
    for day in days:
        for ticker in closes().columns:
            real = outcome(day, ticker, horizon)
            if real is None:
                continue
            p = 0.5 if model_ref == CONSTANT else (0.8 if real["beat"] else 0.2)
            scored.append(Scored(day, ticker, p, real["beat"], real["excess_return"]))
    scores = dataclasses.asdict(score(scored, resamples=200))
    scores["intervals"] = {k: list(v) for k, v in scores["intervals"].items()}  # BSON arrays
    n = scores["count"]
    priced = model_ref != CONSTANT
    return {"_id": f"{window}|{model_ref}|{PROMPT}:{VERSION}|{horizon}", "window_days": window,
            "model_ref": model_ref, "prompt": PROMPT, "prompt_version": VERSION, "horizon": horizon,
            "from_day": days[0].isoformat(), "through_day": days[-1].isoformat(),
            "asked": n + 2, "answered": n + 1, "parsed": n + 1, "scored": n, "late": 1, "memorised": 0,
            "unpriced": 0, "waiting": 0, "coverage": (n + 1) / (n + 2), "parse_rate": (n + 1) / (n + 2),
            "input_tokens": 1800 * (n + 2), "output_tokens": 120 * (n + 2),
            "cost_usd": 0.00084 * (n + 2) if priced else None, "tokens_per_scored": 1920 * (n + 2) / n,
            "cost_per_scored": 0.00084 * (n + 2) / n if priced else None, "scores": scores,
            "ranked": n >= min_count and rank is not None, "rank": rank}


def store_leaderboard(storage: Storage, computed: dt.datetime, days: list[dt.date], min_count: int = 30) -> None:
    """Rows of both stand-ins for horizons 5 and 20 over windows 30 and 0: the future reader ranks first; the
    constant is ranked second over `days` and unranked over the first day only (too few)."""
    rows = []
    for horizon in (5, 20):
        rows.append(leaderboard_row(FUTURE, horizon, 0, days, min_count, 1))
        rows.append(leaderboard_row(CONSTANT, horizon, 0, days, min_count, 2))
        rows.append(leaderboard_row(FUTURE, horizon, 30, days[:1], min_count, None))
    storage.predictions.save_leaderboard(rows, computed)
