"""The state a person asks about first (check_db.py): per registered dataset the collected range, holes, no_data
and failed days and how far behind it is (lib/ops/status_markets.py); the state of the jobs that subscribe to a
dataset (the analysis); the last runs of every job, the database size per collection, alert delivery
(lib/ops/status_jobs.py). Everything is read from what the jobs store; the datasets, their labels, calendars and
commands come from the registry (lib/spine/registry.py), and day records of a job no market registers still show up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from lib.analysis.screener import discover
from lib.config import Settings
from lib.display import duration, kst
from lib.ops.status_ai import AiPredictionsStatus, ai_predictions_status
from lib.ops.status_heal import mark_healed
from lib.ops.status_jobs import (
    QUARANTINE_SHOWN,
    RUN_FIELDS,
    AlertStatus,
    JobRun,
    QuarantinedBar,
    QuarantineStatus,
    alert_status,
    job_runs,
    quarantine_status,
)
from lib.ops.status_markets import (
    DayNote,
    MarketStatus,
    Tracked,
    expected_jobs,
    expected_watermarks,
    market_status,
    tracked,
)
from lib.spine.datasets import Dataset, Registry, WatermarkState
from lib.spine.registry import registry as default_registry
from lib.storage import CollectionSize, Storage

__all__ = [
    "QUARANTINE_SHOWN", "RUN_FIELDS", "AlertStatus", "DayNote", "JobRun", "MarketStatus", "QuarantineStatus",
    "QuarantinedBar", "Status", "attention", "gather", "market_status", "subscriber_states", "watermark_states",
]

EXIT_OK = 0
EXIT_ATTENTION = 1
EXIT_NOT_SET_UP = 2


@dataclass
class Status:
    """Everything check_db shows, and what needs attention."""

    as_of: dt.datetime
    markets: list[MarketStatus]
    analysis: Any  # the first subscriber state (KRX's analysis: lib/analysis/status.py), None before any collection
    jobs: list[JobRun]
    sizes: list[CollectionSize]
    alerts: AlertStatus
    attention: list[str] = field(default_factory=list)
    quarantine: QuarantineStatus = field(default_factory=QuarantineStatus)  # the first quarantining market's
    quarantines: list[QuarantineStatus] = field(default_factory=list)  # every quarantining market's, first first
    watermarks: list[WatermarkState] = field(default_factory=list)  # the watermark-cadence datasets
    registry_errors: list[str] = field(default_factory=list)  # market modules skipped: "module: why"
    ai_predictions: AiPredictionsStatus = field(default_factory=AiPredictionsStatus)  # issue 16's batch and scoring
    # every subscriber state, one per market with screened stocks and a collected day (KRX's, the US stocks'...)
    analyses: list[Any] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 all well, 1 something needs attention, 2 nothing collected yet (run manual_setup.py)."""
        if not any(m.last_day for m in self.markets) and not any(w.read_through for w in self.watermarks):
            return EXIT_NOT_SET_UP
        return EXIT_ATTENTION if self.attention else EXIT_OK


def subscriber_state(storage: Storage, item: Tracked, subscriber: Any, last_day: dt.date, stale_after: int) -> Any:
    """A subscriber's state against its dataset's last collected day, read from the dataset's own collections
    (its namespace: "us_" for US stocks), whatever scope `storage` has."""
    dataset = item.dataset
    return subscriber.status(storage.scoped(dataset.namespace), item.calendar, last_day, stale_after,
                             job=dataset.job, market=dataset.market, runs=subscriber.job)


def subscriber_states(storage: Storage, items: list[Tracked], states: list[MarketStatus], stale_after: int) -> list:
    """The state of every subscriber that reports one, for each dataset with a collected day."""
    last_of = {s.job_name: s.last_day for s in states}
    out = []
    for item in items:
        last = last_of.get(item.dataset.job)
        if last is None or item.calendar is None:
            continue
        out += [subscriber_state(storage, item, s, last, stale_after) for s in item.dataset.subscribers if s.status]
    return out


def watermark_states(storage: Storage, settings: Settings, registry: Registry, now: dt.datetime,
                     state_of: Callable[[Storage, Dataset, dt.datetime], WatermarkState] | None = None
                     ) -> list[WatermarkState]:
    """How far each watermark dataset this install runs has read (lib/spine/watermark.py, imported only when one
    is registered); one that is off here (`Dataset.off`: its key blank) says why and is never stale."""
    if not registry.with_cadence("watermark"):
        return []
    datasets = expected_watermarks(settings, registry, set(storage.jobs.job_names("run")))
    if not datasets:
        return []
    if state_of is None:
        from lib.spine.watermark import watermark_state as state_of
    states = []
    for dataset in datasets:
        state = state_of(storage, dataset, now)
        if dataset.off is not None and (why := dataset.off(settings)):
            state = replace(state, stale=False, off=why)
        states.append(state)
    return states


def gather(storage: Storage, settings: Settings, now: dt.datetime, today: dt.date | None = None,
           sizes: bool = True, registry: Registry | None = None) -> Status:
    """The whole status as of `now` (aware); `today` replaces each dataset's local date for replays."""
    registry = registry or default_registry()
    recorded = set(storage.jobs.job_names("day"))
    items = tracked(registry, settings, recorded)
    expected = expected_jobs(settings, registry, recorded)
    statuses = []
    for item in items:
        local_today = today or now.astimezone(item.dataset.tz).date()
        state = market_status(item, storage.jobs.days_of(item.dataset.job), local_today, settings.stale_after_sessions)
        state.expected = item.dataset.job in expected
        statuses.append(state)
    derived = subscriber_states(storage, items, statuses, settings.stale_after_sessions)
    # each market's held bars from its own bad_data (US stocks' in us_system_info.bad_data); a market this install
    # does not run (US_STOCKS=false) has none to show
    held = [quarantine_status(storage.scoped(d.namespace), d.redo, d.key) for d in registry.quarantining_all()
            if d.off is None or not d.off(settings)]
    status = Status(
        as_of=now,
        markets=statuses,
        analysis=derived[0] if derived else None,
        analyses=derived,
        jobs=mark_healed(job_runs(storage, now), statuses, registry),
        sizes=storage.sizes.collection_sizes(d.namespace for d in registry.screened_all()) if sizes else [],
        alerts=alert_status(storage, settings, now),
        quarantine=held[0] if held else QuarantineStatus(),
        quarantines=held,
        watermarks=watermark_states(storage, settings, registry, now),
        registry_errors=[f"{module}: {why}" for module, why in registry.errors],
        ai_predictions=ai_predictions_status(storage, settings),
    )
    status.attention = attention(status, settings, registry, derived)
    return status


def attention(status: Status, settings: Settings, registry: Registry | None = None,
              derived: list | None = None) -> list[str]:
    """One line per thing a person should look at, saying what to do where we know."""
    registry = registry or default_registry()
    out = [f"market module skipped: {line} (fix it; its datasets are not collected meanwhile)"
           for line in status.registry_errors]
    for m in status.markets:
        dataset = registry.of_job(m.job_name)
        # With nothing collected there is no no_data day (a done status), no hole and nothing stale: only the
        # records that are not done, below.
        if m.last_day is None and m.expected and not m.not_done:
            out.append(f"{m.label}: nothing collected yet: {dataset.setup if dataset else 'run its first collection'}")
        if m.stale:
            out.append(
                f"{m.label}: stale: {m.behind} session(s) after the last collected day {m.last_day} are not "
                f"collected (threshold STALE_AFTER_SESSIONS={settings.stale_after_sessions}); see the last runs"
            )
        if m.holes:
            listed = ", ".join(d.isoformat() for d in m.holes[:5]) + (" ..." if len(m.holes) > 5 else "")
            out.append(f"{m.label}: {len(m.holes)} session(s) missing inside the collected range: {listed} "
                       f"(the next {m.job_name} collects them)")
        for note in m.not_done:
            out.append(f"{m.label}: {note.day} is recorded {note.status}: {note.error or 'no reason stored'}")
        for note in m.no_data:
            if note.still_a_session and dataset is not None:
                out.append(f"{m.label}: {note.day} is recorded no_data but the calendar calls it a session: "
                           f"{dataset.no_data_hint(note.day)}")
    for state in derived if derived is not None else status.analyses:
        out += state.attention()
    for w in status.watermarks:
        if w.stale:
            why = f": {w.last_error}" if w.last_error else ""
            if w.lag is None:
                out.append(f"{w.label}: stale: nothing read yet{': ' + w.setup if w.setup else ''}{why}")
            else:
                behind = duration(w.lag.total_seconds())
                out.append(f"{w.label}: stale: {behind} behind (read through {kst(w.read_through)}){why}")
    for job in status.jobs:
        if job.status == "failed" and not job.healed_by:
            since = f" since {kst(job.failing_since_utc)}, {job.failed_in_a_row} run(s) in a row" \
                if job.failed_in_a_row > 1 else ""
            out.append(f"{job.job_name}: the last run failed{since}: {job.error}")
        failed = job.counters.get("failed")
        if job.status == "completed" and isinstance(failed, int) and failed > 0:
            out.append(f"{job.job_name}: the last run completed but {failed} item(s) failed in it (each is "
                       "logged as an ERROR in logs/cron.log; the next run retries them)")
        if job.stuck:
            out.append(f"{job.job_name}: a run started {kst(job.started_utc)} is marked running but its lock "
                       "is gone (killed?); the next run of the job closes it")
    for line in status.alerts.undelivered:
        out.append(f"alert not delivered: {line}")
    if settings.alert_strategies:
        known = {s.name for s in discover()}
        for name in settings.alert_strategies:
            if name not in known:
                out.append(f"ALERT_STRATEGIES names {name!r}, which is no strategy; known: {', '.join(sorted(known))}")
    return out
