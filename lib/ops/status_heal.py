"""When a failed run is history rather than attention: a later run of another job that collects the same
market completed, and every session the failed run named is collected now.

A dataset's collection jobs (its `collectors` in the registry) share their work (for example a setup job loads
the first window and the catch-up job collects every due session after the first collected one, the holes and
the days a run could not finish included). So when the setup job stopped on a session missing from its file
and the catch-up later completed with that session collected, nothing the setup left undone remains: check_db
shows the run as failed, healed by the catch-up, and it is no longer a reason for exit 1. A failure of any other
job (the analysis, the rebalance, cleanup) ends only with a completed run of that job itself."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lib.ops.status_jobs import JobRun
    from lib.ops.status_markets import MarketStatus
    from lib.spine.datasets import Registry


def collected(state: MarketStatus, day: dt.date) -> bool:
    """The day lies in the market's collected range with a done record (not a hole, not a record not done)."""
    if state.first_day is None or state.last_day is None or not state.first_day <= day <= state.last_day:
        return False
    return day not in (state.holes or []) and day not in {note.day for note in state.not_done}


def mark_healed(jobs: list[JobRun], states: list[MarketStatus], registry: Registry) -> list[JobRun]:
    """Set `healed_by` on each failed latest run whose consequences a later run repaired (see the module): the
    collectors of each dataset come from the registry."""
    by_name = {job.job_name: job for job in jobs}
    state_of = {state.job_name: state for state in states}
    for job in jobs:
        if job.status != "failed":
            continue
        market = next((d for d in registry if job.job_name in d.collectors), None)
        state = state_of.get(market.job) if market else None
        if market is None or state is None:
            continue
        later = [
            other for name in market.collectors if name != job.job_name and (other := by_name.get(name))
            and other.last_completed_utc is not None and other.last_completed_utc > job.started_utc
        ]
        if not later:
            continue
        named = job.counters.get("failed_day")
        if isinstance(named, str) and not collected(state, dt.date.fromisoformat(named)):
            continue
        job.healed_by = max(later, key=lambda other: other.last_completed_utc).job_name
    return jobs
