"""The jobs and side stores check_db shows next to the datasets: the latest run of every job (failure streaks,
stuck runs), alert delivery and the quarantined bars."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from lib.config import Settings
from lib.ops.notifiers import configured_channels
from lib.storage import Storage, naive_utc

# Fields every run record has; the rest are the job's own counters.
RUN_FIELDS = frozenset(
    {"_id", "kind", "job_name", "status", "date_kst", "start_time_utc", "end_time_utc", "error", "host", "pid",
     "exit_code", "stopped_before_start"}
)


@dataclass
class JobRun:
    """A job's latest run and, when it is failing, since when."""

    job_name: str
    status: str
    started_utc: dt.datetime
    seconds: float | None
    error: str | None
    counters: dict[str, Any]
    last_completed_utc: dt.datetime | None
    failing_since_utc: dt.datetime | None = None
    failed_in_a_row: int = 0
    stuck: bool = False  # marked running, but its lock is gone or expired (killed)
    healed_by: str | None = None  # a failed run whose consequences a later run repaired (lib/ops/status_heal.py)


@dataclass
class AlertStatus:
    """Alert channels and how delivery went over the last days."""

    channels: list[str]
    sent: int
    undelivered: list[str]  # "key: channel: error" of deliveries that ran out of attempts


@dataclass
class QuarantinedBar:
    """A bar the price-limit check kept out of stock_data (lib/markets/krx/quarantine.py), and why."""

    ticker: str
    day: dt.date
    market: str
    reason: str


@dataclass
class RefusedItem:
    """An item a dataset's checks refused (kept in system_info.bad_data with its raw value), and why."""

    dataset: str
    key: str | None  # None: the source sent an item without its natural key
    day: str | None
    reason: str
    where: str | None = None  # the file and line of a replayed answer


@dataclass
class QuarantineStatus:
    """How many bars are held in system_info.bad_data, and the newest few. A WARNING-level "needs a look": shown,
    alerted once per day, but not a reason for exit 1 (an entry stays until its day is collected clean)."""

    count: int = 0
    latest: list[QuarantinedBar] = field(default_factory=list)
    redo: str = ""  # how to collect a day again once its source is fixed (the quarantining dataset's command)
    # Items a source sent wrong and a check refused (not held: the US and watermark datasets'), the newest few.
    refused: int = 0
    refused_latest: list[RefusedItem] = field(default_factory=list)
    dataset: str = ""  # the quarantining dataset ("krx.bars", "us.stocks")
    namespace: str = ""  # its market's collections' prefix: the bars are in <namespace>system_info.bad_data


QUARANTINE_SHOWN = 5


def quarantine_status(storage: Storage, redo: str = "collect the day again", dataset: str = "") -> QuarantineStatus:
    """The number of quarantined bars and the newest QUARANTINE_SHOWN of them in `storage`'s scope (the market of
    `dataset`); `redo` says how to collect one again ("{day}" stands for the day)."""
    latest = [QuarantinedBar(d["ticker"], dt.date.fromisoformat(d["date_kst"]), d.get("market", ""), d["reason"])
              for d in storage.bad_data.latest_quarantined(QUARANTINE_SHOWN)]
    refused = [RefusedItem(d["dataset"], d["key"], d["date"], d["reason"], d.get("where"))
               for d in storage.bad_data.rejected_records(QUARANTINE_SHOWN)]
    return QuarantineStatus(storage.bad_data.quarantine_count() if latest else 0, latest, redo.format(day="DAY"),
                            storage.bad_data.rejected_count() if refused else 0, refused, dataset, storage.namespace)


def job_runs(storage: Storage, now: dt.datetime) -> list[JobRun]:
    """The latest run of every job that has run records, with its failure streak and whether it is stuck."""
    out = []
    for job in storage.jobs.job_names("run"):
        latest = storage.jobs.latest_run(job)
        if latest is None:
            continue
        end = latest.get("end_time_utc")
        completed = latest if latest["status"] == "completed" else storage.jobs.latest_run(job, "completed")
        run = JobRun(
            job_name=job,
            status=latest["status"],
            started_utc=latest["start_time_utc"],
            seconds=(end - latest["start_time_utc"]).total_seconds() if end else None,
            error=latest.get("error"),
            counters={k: v for k, v in latest.items() if k not in RUN_FIELDS},
            last_completed_utc=completed["start_time_utc"] if completed else None,
        )
        if latest["status"] == "failed":
            first = storage.jobs.streak_start(job, latest)
            run.failing_since_utc = first["start_time_utc"]
            run.failed_in_a_row = storage.jobs.count_runs_between(job, first, latest)
        if latest["status"] == "running":
            lock = storage.jobs.lock_of(latest["_id"])
            run.stuck = lock is None or lock["expires_utc"] < naive_utc(now)
        out.append(run)
    return out


def alert_status(storage: Storage, settings: Settings, now: dt.datetime) -> AlertStatus:
    """Configured channels, alerts sent over the last 7 days, deliveries that gave up."""
    channels = configured_channels(settings)
    sent, undelivered = 0, []
    for record in storage.alerts.alerts_since(naive_utc(now) - dt.timedelta(days=7)):
        for name, delivery in record.get("channels", {}).items():
            if delivery.get("status") == "sent":
                sent += 1
            elif delivery.get("status") == "failed" and delivery.get("attempts", 0) >= settings.alert_max_attempts:
                undelivered.append(f"{record['_id']}: {name}: {delivery.get('error')}")
    return AlertStatus(channels, sent, undelivered)
