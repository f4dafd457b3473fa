"""When a failed run is history rather than attention: a later run of another job that collects the same
market completed, and every session the failed run named is collected now.

A market's collection jobs share their work (KRX: manual_setup loads the first window, daily_update catches up
every due session after the first collected one, the holes and the days a run could not finish included; the
US: etf_pipeline does both). So when manual_setup stopped on a session missing from its file and daily_update
later completed with that session collected, nothing manual_setup left undone remains: check_db shows the run
as failed, healed by daily_update, and it is no longer a reason for exit 1. A failure of any other job (the
analysis, the rebalance, cleanup) ends only with a completed run of that job itself."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lib.ops.status import JobRun, MarketInfo, MarketStatus


def collected(state: MarketStatus, day: dt.date) -> bool:
    """The day lies in the market's collected range with a done record (not a hole, not a record not done)."""
    if state.first_day is None or state.last_day is None or not state.first_day <= day <= state.last_day:
        return False
    return day not in (state.holes or []) and day not in {note.day for note in state.not_done}


def mark_healed(jobs: list[JobRun], states: list[MarketStatus], markets: dict[str, MarketInfo]) -> list[JobRun]:
    """Set `healed_by` on each failed latest run whose consequences a later run repaired (see the module)."""
    by_name = {job.job_name: job for job in jobs}
    state_of = {state.job_name: state for state in states}
    for job in jobs:
        if job.status != "failed":
            continue
        market = next((m for m in markets.values() if job.job_name in m.collectors), None)
        state = state_of.get(market.job_name) if market else None
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
