"""Cron, 19:00 KST Mon-Fri: collect every due KRX session since the last completed one (self-healing)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from lib.calendar import TradingCalendar
from lib.cli import add_today_argument, as_of_for, exit_code, open_storage, parse_day
from lib.config import Settings, load_settings
from lib.errors import PipelineError
from lib.jobs.collect import daily_update
from lib.jobs.runner import run_job
from lib.log import get_logger, setup_logging
from lib.sources import build_chain

JOB = "daily_update"


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, load settings, run the catch-up; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    add_today_argument(parser)
    parser.add_argument(
        "--redo", type=parse_day, action="append", default=[], metavar="YYYY-MM-DD",
        help="collect this session again even if it is recorded as done (repeatable)",
    )
    args = parser.parse_args(argv)
    setup_logging(JOB)
    log = get_logger()
    try:
        settings = settings or load_settings()
        setup_logging(JOB, settings.log_level)
        as_of = as_of_for(args.today, dt.datetime.now(dt.UTC))
        storage = open_storage(settings)
        calendar = TradingCalendar(settings.krx_extra_closed_days, settings.krx_extra_sessions)
        chain = build_chain(settings)
    except PipelineError as exc:
        log.error("%s", exc)
        return exit_code(exc)
    return run_job(
        JOB, settings, storage, as_of, lambda: dt.datetime.now(dt.UTC),
        lambda ctx: daily_update(ctx, calendar, chain, redo=args.redo),
    )


if __name__ == "__main__":
    sys.exit(main())
