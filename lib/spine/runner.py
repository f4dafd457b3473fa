"""A job run's lifecycle: one lock so overlapping runs exclude each other, a job_status record per run,
and errors turned into one log line and an exit code."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from lib.config import Settings
from lib.errors import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, ConfigError, LockLostError, PipelineError
from lib.log import get_logger
from lib.storage import Storage

log = get_logger("jobs")

# What runs after every job (lib/cli.py passes the alert step): (settings, storage, now, as_of). It must not
# raise; if it does, the run's exit code stands all the same.
AfterRun = Callable[[Settings, Storage, dt.datetime, dt.datetime], None]
HEARTBEATS_PER_TIMEOUT = 6  # a run doing work extends its lock at least this often per LOCK_TIMEOUT_MINUTES


@dataclass
class JobContext:
    """What a job body needs: settings, storage, the run's as-of moment and a wall clock for records."""

    job_name: str
    settings: Settings
    storage: Storage
    as_of: dt.datetime  # the moment the job acts for (aware); decides which days are due
    clock: Callable[[], dt.datetime]  # wall clock (aware UTC) for job_status times and lock heartbeats
    run_id: str
    lock_name: str
    counters: dict[str, Any] = field(default_factory=dict)
    last_beat: dt.datetime | None = None  # when our lock was last extended
    tz: tzinfo | None = None  # the dataset's own time zone (None: as_of's own zone)

    @property
    def today(self) -> dt.date:
        """The date the job acts for, in its dataset's time zone (Seoul for KRX, New York for the US ETFs)."""
        return self.as_of.astimezone(self.tz or self.as_of.tzinfo).date()

    @property
    def lock_ttl(self) -> dt.timedelta:
        """How long the lock survives without a heartbeat."""
        return dt.timedelta(minutes=self.settings.lock_timeout_minutes)

    def heartbeat(self) -> None:
        """Extend our lock; stop at once if a later run has taken it over."""
        now = self.clock()
        if not self.storage.jobs.refresh_lock(self.lock_name, self.run_id, now, self.lock_ttl):
            raise LockLostError(f"lost the {self.lock_name} lock to another run; stopping without further writes")
        self.last_beat = now

    def pulse(self) -> None:
        """Extend our lock when a sixth of its timeout has passed since the last extension: cheap enough to call
        before every request and per item of long work, so a slow run is never taken for a dead one."""
        if self.last_beat is None or self.clock() - self.last_beat >= self.lock_ttl / HEARTBEATS_PER_TIMEOUT:
            self.heartbeat()


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def run_job(
    job_name: str,
    settings: Settings,
    storage: Storage,
    as_of: dt.datetime,
    clock: Callable[[], dt.datetime],
    body: Callable[[JobContext], None],
    lock_name: str,
    after: AfterRun | None = None,
    tz: tzinfo | None = None,
) -> int:
    """Run `body` under the lock with a job_status record, then the `after` hook (the alert step); returns the
    process exit code. `tz` is the dataset's zone: the run record's `date_kst` holds the date there."""
    started = clock()
    run_id = f"{job_name}_{started.strftime('%Y%m%dT%H%M%S')}_{uuid.uuid4().hex[:8]}"
    ctx = JobContext(job_name, settings, storage, as_of, clock, run_id, lock_name, last_beat=started, tz=tz)
    acquired, holder = storage.jobs.acquire_lock(lock_name, run_id, started, ctx.lock_ttl)
    if not acquired:
        since = holder["acquired_utc"].isoformat() if holder else "?"
        log.info("another run (%s) holds the %s lock since %sZ; exiting", holder and holder["owner"], lock_name, since)
        return EXIT_OK
    if holder is not None:
        log.warning(
            "took over the %s lock from %s, silent since %sZ (killed or crashed); its run is marked failed",
            lock_name, holder["owner"], holder["heartbeat_utc"].isoformat(),
        )
        storage.jobs.abandon_run(holder["owner"], started, f"abandoned: no heartbeat since {holder['heartbeat_utc']}Z")
    _close_dead_runs(storage, job_name, started)

    storage.jobs.start_run(
        run_id,
        {
            "job_name": job_name,
            "date_kst": ctx.today.isoformat(),
            "start_time_utc": _utc(started),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        },
    )
    status, error, code = "completed", None, EXIT_OK
    try:
        body(ctx)
    except ConfigError as exc:
        status, error, code = "failed", str(exc), EXIT_CONFIG
        log.error("%s", exc)
    except LockLostError as exc:
        log.error("%s", exc)
        return EXIT_FAILED  # the run that took over owns the records now
    except PipelineError as exc:
        status, error, code = "failed", str(exc), EXIT_FAILED
        log.error("%s", exc)
    except Exception as exc:
        lost = storage.database_failure(exc)
        if lost is None:  # a bug: keep the traceback in the log, and still close the record
            status, error, code = "failed", f"{exc.__class__.__name__}: {exc}", EXIT_FAILED
            log.exception("unexpected error")
        else:  # the database stalled or went away mid-run: one line, exit 1, cron tries again
            status, error, code = "failed", str(lost), EXIT_FAILED
            log.error("%s", lost)
    if error:
        from lib.spine.stops import redact  # here: stops imports this module

        # A source's key may ride in an unexpected exception's text (a URL): the record is served and alerted.
        error = redact(error, settings)
    ended = clock()
    try:
        storage.jobs.finish_run(
            run_id, {"status": status, "end_time_utc": _utc(ended), "error": error, "exit_code": code, **ctx.counters}
        )
        storage.jobs.release_lock(lock_name, run_id)
    except Exception as exc:
        lost = storage.database_failure(exc)
        if lost is None:
            raise
        # Nothing more can be written: the lock expires after LOCK_TIMEOUT_MINUTES and the next run takes over.
        log.error("%s; the run record stays open until the next run takes over the lock", lost)
        return EXIT_FAILED
    seconds = (ended - started).total_seconds()
    outcome = f"{status} (exit {code})" if code else status
    log.info("%s", " ".join([f"{job_name} {outcome} in {seconds:.1f}s", *_summary(ctx.counters)]))
    if after is not None:
        try:
            after(settings, storage, clock(), as_of)
        except Exception as exc:  # noqa: BLE001 - a notifier can never change the job's exit code
            log.warning("after-run step failed (%s: %s); the job's result stands", exc.__class__.__name__, exc)
    return code


def _close_dead_runs(storage: Storage, job_name: str, now: dt.datetime) -> None:
    """Mark failed the job's runs still marked running whose lock is gone or expired: a live run keeps its lock
    fresh, so they died. Under one lock the run that takes it over closes its dead holder above; a dataset shared
    by workers has one lock per host (lib/cli.py host_lock), and a host that died for good is closed here by the
    next run on any host."""
    for run in storage.jobs.running_runs(job_name):
        lock = storage.jobs.lock_of(run["_id"])
        if lock is not None and lock["expires_utc"] >= _utc(now):
            continue
        where = f" on {run['host']}" if run.get("host") else ""
        log.warning("%s: run %s%s died without closing its record (its lock is %s); marked failed", job_name,
                    run["_id"], where, "gone" if lock is None else f"{lock['_id']}, expired")
        storage.jobs.abandon_run(run["_id"], now, f"abandoned: its run{where} holds no live lock (killed?)")


def _summary(counters: dict[str, Any]) -> list[str]:
    return [f"{key}={value}" for key, value in counters.items()]
