"""A cron run that stops before its job starts (a corrupt KRX_REPLAY_PATH, a bad setting found while building
the market): recorded as a failed run of the job, so check_db and the alert step see it like any failure.

The record is a run record (kind "run", status "failed") with `stopped_before_start: true` and the exit code,
written without the job's lock (nothing else is written). Its error is the stop's one line with every secret
of the settings replaced by the setting's name. The alert step then runs as after any job: the first stop of a
streak alerts (`job_failed:<job>:<first run>`), later ones do not, and the next completed run ends the streak
(`job_recovered`)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from urllib.parse import urlsplit

from pydantic import SecretStr

from lib.config import Settings
from lib.log import get_logger
from lib.spine.runner import AfterRun
from lib.storage import Storage, naive_utc

log = get_logger("jobs")


def secret_values(settings: Settings) -> dict[str, str]:
    """Each secret the settings hold, and the parts of a secret URL that can show up alone in an error
    (password, path, query), mapped to the setting's name."""
    out: dict[str, str] = {}
    for name, value in settings.env_values().items():
        if not isinstance(value, SecretStr) or not value.get_secret_value():
            continue
        raw, label = value.get_secret_value(), f"<{name}>"
        out[raw] = label
        if "://" in raw:
            parts = urlsplit(raw)
            # A webhook's path and query are its secret; a MongoDB URI's path is only the database's name.
            secret_parts = [parts.password] if parts.scheme.startswith("mongo") else [
                parts.password, parts.path, parts.query]
            for part in secret_parts:
                if part and len(part) > 3:
                    out[part] = label
    return out


def redact(text: str, settings: Settings) -> str:
    """The text with every secret of the settings replaced by `<SETTING_NAME>` (longest first)."""
    for secret, label in sorted(secret_values(settings).items(), key=lambda item: -len(item[0])):
        text = text.replace(secret, label)
    return text


def record_stop(job: str, settings: Settings, storage: Storage, now: dt.datetime, reason: str, code: int,
                as_of: dt.datetime | None = None, after: AfterRun | None = None) -> str | None:
    """Record that `job` stopped before it started (exit `code`, one line `reason`) for the run's `as_of`
    (default now; its date in as_of's zone is the record's `date_kst`), then run `after` (the alert step);
    returns the run id, or None when the record could not be written (a WARNING says so; the exit code stands)."""
    run_id = f"{job}_{now.strftime('%Y%m%dT%H%M%S')}_{uuid.uuid4().hex[:8]}"
    moment = naive_utc(now)
    try:
        storage.jobs.start_run(run_id, {
            "job_name": job,
            "date_kst": (as_of or now).date().isoformat(),
            "start_time_utc": moment,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        })
        storage.jobs.finish_run(run_id, {
            "status": "failed", "end_time_utc": moment, "error": redact(reason, settings), "exit_code": code,
            "stopped_before_start": True,
        })
    except Exception as exc:  # noqa: BLE001 - the stop's own exit code and line must stand whatever happens here
        log.warning("could not record the stop of %s (%s: %s): no alert for it", job, exc.__class__.__name__,
                    redact(str(exc), settings))
        return None
    if after is not None:
        try:
            after(settings, storage, now, as_of or now)
        except Exception as exc:  # noqa: BLE001 - the stop's exit code stands whatever the alert step does
            log.warning("after-run step failed (%s: %s)", exc.__class__.__name__, exc)
    return run_id
