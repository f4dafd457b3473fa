"""system_info.ai_predictions and system_info.ai_leaderboard: the AI's scored predictions (issue 16).

A prediction document, `_id` = prediction_id(day, ticker, model_ref, prompt, prompt_version): one per stock, day,
model and prompt version, so a batch cut by a crash resumes without asking a model twice:

    day "YYYY-MM-DD" (the session predicted from, its cutoff the day's end in the market's zone), market, ticker,
    provider, model ("provider:model" in `model_ref`), prompt, prompt_version, input_digest (the same for every
    model asked that day and stock), context_ids, cutoff_utc, made_utc (when stored), deadline_utc (the next
    session's open), late (made after it: never scored), memorised (the day is before the model's knowledge
    cutoff: never scored), status "ok" | "failed", error, error_kind, parse_ok, attempts, model_calls,
    usage {input_tokens, output_tokens, ...}, cost_usd (None when the model's price is not set), latency_ms,
    horizons {"5": {probability, direction "up"|"down", reason, citations}, "10": ..., "20": ...} (ok only),
    outcomes {"5": {end_day, forward_return, median_return, excess_return, beat, universe, priced_day,
    scored_utc, and `reason` when the stock could not be priced (beat None)}, ...} (filled by the evaluation once
    the horizon has passed; lib/ai/evaluate.py).

A leaderboard row, `_id` = "<window>|<model_ref>|<prompt>:<prompt_version>|<horizon>" (lib/ai/evaluate_board.py):
the scores of lib/ai/scoring.py and the counts (asked, answered, parsed, scored), with `computed_utc` and
`through_day`. All times naive UTC."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReplaceOne, UpdateOne

from lib.storage.client import StoreBase, naive_utc


def prediction_id(day: dt.date, ticker: str, model_ref: str, prompt: str, version: str) -> str:
    """The natural key of a prediction: what makes asking again unnecessary."""
    return f"{day.isoformat()}|{ticker}|{model_ref}|{prompt}:{version}"


BULKY = {"input": 0, "context": 0}  # the prompt's input and context block (~10 KB a document): left out by
# the readers that only count and score, so a year of predictions is not read into memory with them


class PredictionsStore(StoreBase):
    """Predictions, their outcomes, and the leaderboard computed from them."""

    @property
    def predictions(self) -> Any:
        """One document per stock, day, model and prompt version."""
        return self.system["ai_predictions"]

    @property
    def leaderboard(self) -> Any:
        """One row per window, model, prompt and horizon."""
        return self.system["ai_leaderboard"]

    def _predictions_indexes(self) -> None:
        self.predictions.create_index([("day", ASCENDING), ("ticker", ASCENDING)])
        self.predictions.create_index([("ticker", ASCENDING), ("day", DESCENDING)])
        self.predictions.create_index([("model_ref", ASCENDING), ("day", DESCENDING)])

    def stored_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of these predictions are stored (answered or failed)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return set()
        return {doc["_id"] for doc in self.predictions.find({"_id": {"$in": wanted}}, {"_id": 1})}

    def save_prediction(self, doc: Mapping[str, Any]) -> None:
        """Store one prediction on its `_id` (a rerun rewrites it, never adds a copy)."""
        self._write("ai_predictions")
        self.predictions.replace_one({"_id": doc["_id"]}, dict(doc), upsert=True)

    def prediction(self, prediction_id_: str) -> dict[str, Any] | None:
        """One prediction by id."""
        return self.predictions.find_one({"_id": prediction_id_})

    def awaiting_outcome(self, horizon: int, through_day: dt.date | None = None) -> list[dict[str, Any]]:
        """Answered, scorable predictions (on time, not memorised) without an outcome at `horizon`, made on days
        up to `through_day`, oldest first (without their input and context block)."""
        query: dict[str, Any] = {"status": "ok", "late": False, "memorised": False,
                                 f"outcomes.{horizon}": {"$exists": False}}
        if through_day is not None:
            query["day"] = {"$lte": through_day.isoformat()}
        return list(self.predictions.find(query, BULKY).sort([("day", ASCENDING), ("_id", ASCENDING)]))

    def set_outcomes(self, outcomes: Iterable[tuple[str, int, Mapping[str, Any]]]) -> int:
        """Store (prediction id, horizon, outcome) triples; idempotent. Returns how many were written."""
        ops = [UpdateOne({"_id": pid}, {"$set": {f"outcomes.{horizon}": dict(outcome)}})
               for pid, horizon, outcome in outcomes]
        if not ops:
            return 0
        self._write("ai_predictions.outcomes")
        self.predictions.bulk_write(ops, ordered=False)
        return len(ops)

    def find_predictions(self, *, ticker: str | None = None, model_ref: str | None = None,
                         day: dt.date | None = None, since: dt.date | None = None, prompt: str | None = None,
                         limit: int = 0, light: bool = False) -> list[dict[str, Any]]:
        """Predictions by ticker, model, day or days since, newest day first (`light`: without their input and
        context block)."""
        query: dict[str, Any] = {}
        if ticker:
            query["ticker"] = ticker
        if model_ref:
            query["model_ref"] = model_ref
        if prompt:
            query["prompt"] = prompt
        if day:
            query["day"] = day.isoformat()
        elif since:
            query["day"] = {"$gte": since.isoformat()}
        cursor = self.predictions.find(query, BULKY if light else None).sort(
            [("day", DESCENDING), ("ticker", ASCENDING), ("_id", ASCENDING)])
        return list(cursor.limit(limit) if limit else cursor)

    def stored_values(self, name: str) -> list[str]:
        """The distinct values of a prediction field (model_ref, prompt), sorted: what a filter can name."""
        return sorted(v for v in self.predictions.distinct(name) if isinstance(v, str))

    def waiting_count(self) -> int:
        """Answered, scorable predictions still waiting for their longest horizon's outcome."""
        return self.predictions.count_documents({"status": "ok", "late": False, "memorised": False,
                                                 "outcomes.20": {"$exists": False}})

    def save_leaderboard(self, rows: Iterable[Mapping[str, Any]], computed: dt.datetime) -> None:
        """Replace the leaderboard with these rows (each on its `_id`), then drop rows not computed now."""
        stamp = naive_utc(computed)
        docs = [{**row, "computed_utc": stamp} for row in rows]
        self._write("ai_leaderboard")
        if docs:
            self.leaderboard.bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs], ordered=False)
        self.leaderboard.delete_many({"computed_utc": {"$ne": stamp}})

    def leaderboard_rows(self, *, window: int | None = None, horizon: int | None = None,
                         prompt: str | None = None) -> list[dict[str, Any]]:
        """The stored leaderboard, filtered."""
        query: dict[str, Any] = {}
        if window is not None:
            query["window_days"] = window
        if horizon is not None:
            query["horizon"] = horizon
        if prompt:
            query["prompt"] = prompt
        return list(self.leaderboard.find(query).sort([("window_days", ASCENDING), ("horizon", ASCENDING),
                                                       ("_id", ASCENDING)]))

    def delete_predictions_before(self, cutoff: dt.date, dry_run: bool = False) -> int:
        """Delete (or count) the predictions of days before `cutoff` (retention)."""
        return self._delete_or_count(self.predictions, {"day": {"$lt": cutoff.isoformat()}},
                                     "ai_predictions.cleanup", dry_run)
