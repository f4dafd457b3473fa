"""What every script shares: --today parsing, the as-of moment, opening storage, errors to exit codes."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import socket
import sys
from collections.abc import Callable, Iterator
from datetime import tzinfo
from typing import Any

from lib.config import Settings, load_settings
from lib.errors import ConfigError, PipelineError
from lib.log import get_logger, setup_logging
from lib.ops.alerts import alert_after_job
from lib.spine.datasets import Dataset
from lib.spine.registry import registry
from lib.spine.runner import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, JobContext, run_job
from lib.spine.stops import record_stop, redact
from lib.spine.watermark import run_watermark
from lib.storage import Storage, get_client
from lib.storage.client import CONNECT_TIMEOUT_SECONDS

log = get_logger("cli")


def parse_day(text: str) -> dt.date:
    """argparse type for YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None


def add_today_argument(parser: argparse.ArgumentParser, zone: tzinfo) -> None:
    """The --today option every script takes (a date in `zone`, its dataset's time zone)."""
    parser.add_argument(
        "--today",
        type=parse_day,
        metavar="YYYY-MM-DD",
        help=f"act as at the end of this date in {zone} (replays, tests); default: the clock",
    )


def dataset_zone(key: str) -> tzinfo:
    """The time zone of a registered dataset (what its scripts' --today means); UTC when it is not registered
    (its market module failed: run_script then says so)."""
    try:
        return registry().get(key).tz
    except KeyError:
        return dt.UTC


def as_of_for(today: dt.date | None, now: dt.datetime, tz: tzinfo) -> dt.datetime:
    """The moment a run acts for: now, or the end of an earlier --today in the market's time zone."""
    now_local = now.astimezone(tz)
    if today is None or today == now_local.date():
        return now_local
    if today > now_local.date():
        raise ConfigError(f"--today {today} is in the future (it is {now_local.date()} in {tz})")
    return dt.datetime.combine(today, dt.time(23, 59, 59), tzinfo=tz)


def open_storage(settings: Settings, on_write: Callable[[str], None] | None = None) -> Storage:
    """Storage on MONGODB_URI; refuses to run without one so no production day is written into memory."""
    uri = settings.mongodb_uri_value
    if uri is None:
        raise ConfigError(
            "MONGODB_URI is not set: set it in .env to your server (mongodb://user:pass@host:27017/); "
            "mongomock:// is the in-memory database for tests and the demo"
        )
    if uri.startswith("mongomock://"):
        log.warning("MONGODB_URI=mongomock://: an in-memory database, nothing outlives this process")
    operation_seconds = settings.mongodb_timeout_seconds
    storage = Storage(get_client(uri, operation_timeout_seconds=operation_seconds), settings.mongodb_db_prefix,
                      on_write=on_write)
    # A ping needs no long budget: a server that does not answer it stops the run within the connect timeout.
    storage.ping(min(CONNECT_TIMEOUT_SECONDS, operation_seconds))
    return storage


def exit_code(exc: PipelineError) -> int:
    """ConfigError needs a human (2); everything else may pass on a later run (1)."""
    return EXIT_CONFIG if isinstance(exc, ConfigError) else EXIT_FAILED


@contextlib.contextmanager
def progress_bars(description: str) -> Iterator[Callable[[int], Callable[[int], None]] | None]:
    """On a terminal, a factory of tqdm bars, with the pipeline's log lines written above the bar instead of
    glued onto its line; None under cron, where the per-month log lines tell the progress."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    bars: list[tqdm] = []

    def make(total: int) -> Callable[[int], None]:
        bar = tqdm(total=total, desc=description, unit="day", file=sys.stderr, leave=True)
        bars.append(bar)
        return bar.update

    with logging_redirect_tqdm(loggers=[get_logger()]):
        try:
            yield make
        finally:
            for bar in bars:
                bar.close()


def run_script(
    dataset: str,
    job: str,
    today: dt.date | None,
    settings: Settings | None,
    make_body: Callable[[Any], Callable[[JobContext], None]],
    clock: Callable[[], dt.datetime],
    lock_name: str | None = None,
    build: bool = True,
    off_note: str = "",
    **setting_updates: object,
) -> int:
    """What every cron script does for `job` on the registered `dataset` (`market.kind`, e.g. "krx.bars"):
    logging, settings, storage, the dataset's `build` from the settings (a session dataset's Market: its calendar,
    sources and collector; a watermark dataset's reader) handed to `make_body`, then the job under its lock
    (default: the Market's) acting for `today` in the dataset's time zone, with the alert step after it. `clock`
    is the script's wall clock (aware UTC). With `build=False` the Dataset itself is handed over, for a job that
    needs only its calendar, job and zone (cleanup), and none of the market's sources. Any problem before the job
    starts is one log line and an exit code; once the database is open it is also recorded as a failed run of the
    job and alerted like one (lib/spine/stops.py), so a cron run that stops for a human tells the owner. A dataset
    that is off on this install (`Dataset.off`) says so in one INFO line (plus `off_note`) and exits 0, opening
    and recording nothing."""
    setup_logging(job)
    storage: Storage | None = None
    tried_storage = False
    try:
        spec = registry().get(dataset)
    except KeyError as exc:  # its market module failed to load (logged above) or is not installed
        get_logger().error("%s (see the `market module skipped` line, or `python check_db.py`)", exc.args[0])
        return EXIT_CONFIG
    try:
        settings = settings or load_settings()
        if setting_updates:
            settings = settings.updated(**setting_updates)
        setup_logging(job, settings.log_level, settings.log_warnings_file)
        if spec.off is not None and (why := spec.off(settings)):
            get_logger().info("%s is off: %s%s", spec.key, why, off_note)
            return EXIT_OK
        tried_storage = True
        # the job sees its market's own collections (Dataset.namespace: "us_" for US stocks); the shared ones
        # (job records, locks, alerts) are the same in every scope
        storage = open_storage(settings).scoped(spec.namespace)
        if build and spec.build is None:
            raise ConfigError(f"dataset {spec.key} has nothing to build")
        # a session dataset's Market, a watermark dataset's reader; or the Dataset
        plugged = spec.build(settings) if build else spec
        body = make_body(plugged)
    except PipelineError as exc:
        if storage is None and settings is not None and not tried_storage:  # e.g. LOG_WARNINGS_FILE unwritable
            with contextlib.suppress(PipelineError):
                storage = open_storage(settings)
        return _stopped(job, spec.tz, settings, storage, exc, clock, today)
    try:
        as_of = as_of_for(today, clock(), spec.tz)
    except ConfigError as exc:  # a --today typed at a terminal: said there, not a failure of the job to record
        get_logger().error("%s", exc)
        return exit_code(exc)
    lock = lock_name or plugged.lock
    if spec.workers and lock_name in (None, spec.lock):  # its collection's lock; analysis and cleanup keep theirs
        lock = host_lock(spec, settings, lock)
    return run_job(job, settings, storage, as_of, clock, body, lock_name=lock, after=alert_after_job, tz=spec.tz)


def host_lock(spec: Dataset, settings: Settings, lock: str) -> str:
    """The collection lock of a dataset shared by several workers (`Dataset.workers`), per host:
    `<lock>@<worker>`, so two runs on one host never overlap while several hosts share a run through leases
    (lib/spine/leases.py). The worker is the market's `worker_id` setting (US_WORKER_ID) when set, else the host
    name: two hosts given the same worker id exclude each other, as they would hold each other's leases."""
    try:
        worker = str(getattr(settings.market(spec.market), "worker_id", "") or "").strip()
    except ConfigError:  # a market without settings of its own: its workers are told apart by host name
        worker = ""
    return f"{lock}@{worker or socket.gethostname()}"


def run_watermark_script(dataset: str, today: dt.date | None, settings: Settings | None,
                         clock: Callable[[], dt.datetime]) -> int:
    """What a watermark dataset's cron script does (`market.kind`, cadence "watermark"): run_script's steps, with
    the dataset's reader (its `build`) read from its stored watermark under the dataset's lock
    (lib/spine/watermark.py). A dataset that is off on this install (its key blank: `Dataset.off`) says so in one
    INFO line and exits 0, recording nothing (run_script's check)."""
    spec = next((d for d in registry() if d.key == dataset), None)
    if spec is not None and spec.cadence != "watermark":
        get_logger().error("dataset %s has the %s cadence: its script uses run_script", dataset, spec.cadence)
        return EXIT_CONFIG
    job = spec.job if spec else dataset
    return run_script(dataset, job, today, settings, lambda reader: lambda ctx: run_watermark(ctx, spec, reader),
                      clock, lock_name=spec.lock if spec else None)


def _stopped(job: str, zone: tzinfo, settings: Settings | None, storage: Storage | None, exc: PipelineError,
             clock: Callable[[], dt.datetime], today: dt.date | None) -> int:
    """The one line of a run that stopped before its job started; recorded and alerted when the database is
    open, else the line says that nobody else is told."""
    code = exit_code(exc)
    if settings is None:  # MONGODB_URI may be fine: it is the settings that stopped the run before opening it
        get_logger().error("%s (not recorded, no alert sent: the settings did not load, so no database was opened)",
                           exc)
        return code
    if storage is None:
        get_logger().error("%s (not recorded, no alert sent: no database to record it in)", exc)
        return code
    get_logger().error("%s", redact(str(exc), settings))
    now = clock()
    try:
        as_of = as_of_for(today, now, zone)
    except ConfigError:
        as_of = now.astimezone(zone)
    record_stop(job, settings, storage, now, str(exc), code, as_of, after=alert_after_job)
    return code


def read_only_script(
    job: str,
    today: dt.date | None,
    settings: Settings | None,
    action: Callable[[Settings, Storage, dt.datetime], int],
    clock: Callable[[], dt.datetime],
    zone: tzinfo = dt.UTC,
) -> int:
    """What a script that only reads does (check_db, cleanup --dry-run): logging, settings and storage, then
    `action(settings, storage, as_of)` (as_of: the end of --today in `zone`, or now) with no lock and no run
    record. A problem before it starts is one log line and an exit code."""
    setup_logging(job)
    try:
        settings = settings or load_settings()
        setup_logging(job, settings.log_level, settings.log_warnings_file)
        as_of = as_of_for(today, clock(), zone)
        storage = open_storage(settings)
        try:
            return action(settings, storage, as_of)
        except Exception as exc:  # the database failed mid-read (stalled, lost, or refused a read-only user)
            lost = storage.database_failure(exc)
            if lost is None:
                raise
            raise lost from None
    except PipelineError as exc:
        get_logger().error("%s", exc)
        return exit_code(exc)
