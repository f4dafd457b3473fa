"""Cron, hourly 19:10-08:10 KST: analyse the latest collected trading day, a quota of tickers per run."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from lib.calendar import TradingCalendar
from lib.cli import add_today_argument, as_of_for, exit_code, open_storage
from lib.config import Settings, load_settings
from lib.errors import PipelineError
from lib.jobs.analysis import hourly_analysis
from lib.jobs.runner import run_job
from lib.log import get_logger, setup_logging
from lib.screener import discover
from lib.sources import build_chain

JOB = "hourly_analysis"


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, load settings, analyse what is pending; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    add_today_argument(parser)
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
        registry = discover()
    except PipelineError as exc:
        log.error("%s", exc)
        return exit_code(exc)
    return run_job(
        JOB, settings, storage, as_of, lambda: dt.datetime.now(dt.UTC),
        lambda ctx: hourly_analysis(ctx, calendar, chain, registry), lock_name="analysis",
    )


if __name__ == "__main__":
    sys.exit(main())
