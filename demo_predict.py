"""The demo's scored-predictions part (demo.py, issue 16): two offline stub models (lib/ai/predict_stub.py:
rule-based, NOT LLMs; `stub-momentum` leans with the 20-day return, `stub-even` always says 0.5) predict past
sessions of the bundled history, each at a simulated 20:00 KST of its day (before the next open, as the cron
job would), through the same batch, checks and storage as a real model; ai_evaluate.py scores them on the stored
bars; the leaderboard is printed. The stubs read only what they are sent, never the future."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import ai_evaluate
from lib.ai.predict import predict_day
from lib.ai.predict_stub import STUB_MODELS, stub_predict_factory
from lib.config import Settings
from lib.display import count, table
from lib.log import setup_logging
from lib.spine.registry import registry
from lib.spine.runner import run_job
from lib.storage import Storage

EVENING = dt.time(20, 0)  # the simulated time each day's batch runs at, in the market's zone
HORIZON = 5  # the horizon the printed leaderboard shows (all three are stored)


def stub_settings(settings: Settings, watchlist: list[str], stocks: int) -> Settings:
    """The two stubs asked about `watchlist` each day (no strategy's picks: the demo's history has the picks of
    its last day only)."""
    return settings.updated(ai_predict_models=[f"openai:{m}" for m in STUB_MODELS], ai_predict_strategies=[],
                            ai_predict_watchlist=watchlist, ai_predict_max_per_day=stocks)


def _fixed(moment: dt.datetime) -> Callable[[], dt.datetime]:
    def clock() -> dt.datetime:
        return moment

    return clock


def predict_history(storage: Storage, settings: Settings, today: dt.date, sessions: int, stocks: int) -> int:
    """Run the batch for the `sessions` sessions that end 20 sessions before `today` (so every horizon has an
    outcome), each under its own run record at its evening; returns the first non-zero exit code, else 0."""
    dataset = registry().screened()
    calendar = dataset.calendar(settings)
    days = calendar.last_sessions(today, sessions + 20)[:sessions]
    watchlist = [doc["ticker"] for doc in storage.universe.universe(active_only=True)[:stocks]]
    stubbed = stub_settings(settings, watchlist, stocks)
    print(f"  {len(STUB_MODELS)} stub models x {len(watchlist)} largest stocks x {len(days)} sessions "
          f"({days[0]} .. {days[-1]}), each batch at 20:00 KST of its day", flush=True)
    setup_logging("ai_predict", settings.log_level, settings.log_warnings_file)  # else tagged as the last script
    for day in days:
        evening = dt.datetime.combine(day, EVENING, tzinfo=dataset.tz)
        code = run_job("ai_predict", stubbed, storage, evening, _fixed(evening),
                       lambda ctx, day=day: predict_day(ctx, day, stub_predict_factory), lock_name="ai_predict",
                       tz=dataset.tz)
        if code != 0:
            return code
    return ai_evaluate.main(["--today", today.isoformat()], settings=stubbed)


def _interval(row: dict, name: str, fmt: str) -> str:
    scores = row["scores"] or {}
    value, bounds = scores.get(name), scores.get("intervals", {}).get(name)
    if value is None:
        return "-"
    text = _number(value, fmt)
    return f"{text} [{_number(bounds[0], fmt)}, {_number(bounds[1], fmt)}]" if bounds else text


def _number(value: float, fmt: str) -> str:
    """`value` in `fmt`, a rounding to zero printed +0.000 rather than -0.000."""
    text = format(value, fmt)
    return format(0.0, fmt) if float(text) == 0 else text


def print_leaderboard(storage: Storage, min_count: int) -> None:
    """The stored leaderboard's everything-window rows at HORIZON sessions, as GET /ai/leaderboard serves them."""
    rows = storage.predictions.leaderboard_rows(window=0, horizon=HORIZON)
    if not rows:
        print("  (no scored prediction)")
        return
    body = []
    for row in sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0, r["model_ref"])):
        scores = row["scores"] or {}
        body.append([
            str(row["rank"] or "-"), row["model_ref"], f"{row['prompt']}:{row['prompt_version']}",
            f"{count(row['scored'])} of {count(row['asked'])}",
            _interval(row, "brier", ".4f"), _interval(row, "brier_skill", "+.3f"), _interval(row, "accuracy", ".3f"),
            _interval(row, "ic_mean", "+.3f"),
            format(scores["top_k_excess"] * 100, "+.2f") + " %" if scores.get("top_k_excess") is not None else "-",
        ])
    print(f"  horizon {HORIZON} sessions, every scored day ({rows[0]['from_day']} .. {rows[0]['through_day']}); "
          "[95% day-block bootstrap interval]")
    print(table(["rank", "model (stub, not an LLM)", "prompt", "scored", "Brier (0 best)", "skill vs base rate",
                 "accuracy", "rank IC", f"top-5 excess ({HORIZON}-session)"], body, right=(3,)))
    print(f"  Brier: mean squared error of the probability of beating the day's median {HORIZON}-session return\n"
          "  skill: 1 - Brier / Brier of always saying the base rate (0: no better, below 0: worse); rank: by skill,\n"
          f"    a model is ranked from {min_count} scored predictions\n"
          "  accuracy: share of calls right (p >= 0.5 called a beat; 0.5 is a coin)\n"
          "  rank IC: daily Spearman correlation of the probabilities with the excess returns (-1..+1; 0: no edge)\n"
          f"  top-5 excess: the day's 5 highest probabilities' mean {HORIZON}-session return over the median, in %,\n"
          "    averaged over days; '-' when every probability is the same (nothing is ranked)\n"
          "  A constant 0.5 must show skill ~0, no IC and no top 5; an interval containing 0 is no demonstrated edge.")
