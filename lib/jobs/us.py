"""What both US scripts share: settings, storage, XNYS, the US source chain, New York time, the lock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from lib.cli import exit_code, open_storage
from lib.config import Settings, load_settings
from lib.errors import ConfigError, PipelineError
from lib.etf.market import NEW_YORK, UsMarket
from lib.jobs.etf import EtfPlan
from lib.jobs.runner import JobContext, run_job
from lib.log import get_logger, setup_logging
from lib.sources.us_chain import UsChain, build_us_chain

US_LOCK = "us_etf"

Body = Callable[[JobContext, UsMarket, UsChain, EtfPlan], None]


def us_as_of(today: dt.date | None, now: dt.datetime) -> dt.datetime:
    """The moment a US run acts for: now, or the end of an earlier New York date."""
    local = now.astimezone(NEW_YORK)
    if today is None or today == local.date():
        return local
    if today > local.date():
        raise ConfigError(f"--today {today} is in the future (it is {local.date()} in New York)")
    return UsMarket.end_of_day(today)


def run_us_script(
    job: str,
    today: dt.date | None,
    settings: Settings | None,
    clock: Callable[[], dt.datetime],
    body: Body,
    **setting_updates: object,
) -> int:
    """Logging, settings, storage, XNYS and the sources, then the job under the US lock."""
    setup_logging(job)
    try:
        settings = settings or load_settings()
        if setting_updates:
            settings = settings.model_copy(update=setting_updates)
        setup_logging(job, settings.log_level)
        as_of = us_as_of(today, clock())
        storage = open_storage(settings)
        market = UsMarket(settings.us_extra_closed_days, settings.us_extra_sessions)
        chain = build_us_chain(settings)
        plan = EtfPlan.from_settings(settings)
    except PipelineError as exc:
        get_logger().error("%s", exc)
        return exit_code(exc)
    return run_job(job, settings, storage, as_of, clock, lambda ctx: body(ctx, market, chain, plan), lock_name=US_LOCK)
