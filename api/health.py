"""GET /health: is collection up to date, and how did the last runs end."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.deps import get_storage
from lib.storage import Storage

router = APIRouter(tags=["health"])


@router.get("/health")
def health(storage: Annotated[Storage, Depends(get_storage)]) -> dict[str, Any]:
    """The last collected trading day and the latest run of each job."""
    done = storage.done_days()
    latest: dict[str, Any] = {}
    for run in storage.runs(limit=50):
        latest.setdefault(
            run["job_name"],
            {k: run.get(k) for k in ("status", "start_time_utc", "end_time_utc", "error", "days_completed")},
        )
    return {
        "last_collected_day": max(done).isoformat() if done else None,
        "active_tickers": storage.tickers.count_documents({"is_active": True}),
        "jobs": latest,
    }
