"""check_db's "AI predictions" block (issue 16): the last runs of ai_predict and ai_evaluate, what the last batch
stored, how many predictions wait for their horizon, and when the leaderboard was computed. Off (one line saying
why) when AI_PREDICT_MODELS is blank and nothing is stored; off with predictions stored, both."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from lib.config import Settings
from lib.display import count
from lib.storage import Storage

PREDICT_JOB, EVALUATE_JOB = "ai_predict", "ai_evaluate"
OFF = "AI_PREDICT_MODELS is blank: no model is asked for predictions (set provider:model pairs to turn it on)"


@dataclass
class LastRun:
    """A job's latest run, in short."""

    status: str
    started_utc: dt.datetime | None
    ended_utc: dt.datetime | None
    error: str | None


@dataclass
class AiPredictionsStatus:
    """The prediction batch and its evaluation, as check_db shows them."""

    off: str | None = None  # why it is off; None when AI_PREDICT_MODELS names a model
    models: list[str] | None = None
    predict_run: LastRun | None = None  # ai_predict's latest run
    evaluate_run: LastRun | None = None  # ai_evaluate's latest run
    batch_day: dt.date | None = None  # the newest prediction day stored
    batch_stored: int = 0  # predictions stored for it (answered or failed)
    batch_failed: int = 0
    batch_late: int = 0  # made after the next session opened: never scored
    waiting: int = 0  # answered, scorable predictions whose longest horizon has no outcome yet
    leaderboard_rows: int = 0
    leaderboard_computed_utc: dt.datetime | None = None


def _last_run(storage: Storage, job: str) -> LastRun | None:
    run = storage.jobs.latest_run(job)
    if run is None:
        return None
    return LastRun(run.get("status", "?"), run.get("start_time_utc"), run.get("end_time_utc"), run.get("error"))


def ai_predictions_status(storage: Storage, settings: Settings) -> AiPredictionsStatus:
    """The block's figures, read from the run records and storage.predictions (a few indexed reads)."""
    newest = storage.predictions.find_predictions(limit=1, light=True)
    off = None if settings.ai_predict_models else OFF
    if off and not newest:
        return AiPredictionsStatus(off=off)
    # turned off after predictions were stored: ai_evaluate still scores them, so the figures are still shown
    day = dt.date.fromisoformat(newest[0]["day"]) if newest else None
    batch = storage.predictions.find_predictions(day=day, light=True) if day else []
    rows = storage.predictions.leaderboard_rows()
    return AiPredictionsStatus(
        off=off, models=list(settings.ai_predict_models),
        predict_run=_last_run(storage, PREDICT_JOB), evaluate_run=_last_run(storage, EVALUATE_JOB),
        batch_day=dt.date.fromisoformat(newest[0]["day"]) if newest else None, batch_stored=len(batch),
        batch_failed=sum(1 for d in batch if d.get("status") != "ok"),
        batch_late=sum(1 for d in batch if d.get("late")),
        waiting=storage.predictions.waiting_count(), leaderboard_rows=len(rows),
        leaderboard_computed_utc=max((r["computed_utc"] for r in rows if r.get("computed_utc")), default=None),
    )


def ai_predictions_rows(block: AiPredictionsStatus, kst: Callable[[dt.datetime | None], str]) -> list[list[str]]:
    """The block as label/value rows for check_db's text; `kst` formats a UTC moment in Korea time."""
    if block.off and block.batch_day is None:
        return [["state", f"off: {block.off}"]]

    def run(last: LastRun | None, job: str) -> str:
        if last is None:
            return f"never run (python {job}.py)"
        error = f": {last.error}" if last.status == "failed" and last.error else ""
        return f"{last.status}, started {kst(last.started_utc)} KST{error}"

    batch = "none stored yet" if block.batch_day is None else (
        f"{count(block.batch_stored)} prediction(s) for {block.batch_day} ({count(block.batch_failed)} failed, "
        f"{count(block.batch_late)} late: never scored)")
    board = "not computed yet" if block.leaderboard_computed_utc is None else (
        f"{count(block.leaderboard_rows)} row(s), computed {kst(block.leaderboard_computed_utc)} KST")
    return [
        ["models", ", ".join(block.models or []) if not block.off else f"off: {block.off}"],
        ["last batch", run(block.predict_run, PREDICT_JOB)],
        ["stored", batch],
        ["waiting", f"{count(block.waiting)} prediction(s) wait for their 20-session outcome"],
        ["last scoring", run(block.evaluate_run, EVALUATE_JOB)],
        ["leaderboard", board],
    ]
