"""Run once at install: create indexes, load the last N KRX sessions (resumable), build target_tickers."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from lib.calendar import TradingCalendar
from lib.cli import add_today_argument, as_of_for, exit_code, open_storage, progress_factory
from lib.config import Settings, load_settings
from lib.errors import PipelineError
from lib.jobs.collect import manual_setup
from lib.jobs.runner import run_job
from lib.log import get_logger, setup_logging
from lib.sources import build_chain

JOB = "manual_setup"


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, load settings, run the initial load; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    add_today_argument(parser)
    parser.add_argument("--sessions", type=int, help="sessions of history to load (default SETUP_HISTORY_SESSIONS)")
    args = parser.parse_args(argv)
    setup_logging(JOB)
    log = get_logger()
    try:
        settings = settings or load_settings()
        if args.sessions is not None:
            settings = settings.model_copy(update={"setup_history_sessions": args.sessions})
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
        lambda ctx: manual_setup(ctx, calendar, chain, progress_factory("manual_setup")),
    )


if __name__ == "__main__":
    sys.exit(main())
