"""Run once at install: create indexes, load the last N KRX sessions (resumable), build target_tickers."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from lib.cli import add_today_argument, progress_factory, run_script
from lib.config import Settings
from lib.jobs.collect import manual_setup

JOB = "manual_setup"


def _sessions(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 5000:
        raise argparse.ArgumentTypeError("--sessions takes a number from 1 to 5000")
    return value


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, load settings, run the initial load; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    add_today_argument(parser)
    parser.add_argument("--sessions", type=_sessions, help="sessions of history to load (SETUP_HISTORY_SESSIONS)")
    args = parser.parse_args(argv)
    updates = {"setup_history_sessions": args.sessions} if args.sessions else {}
    return run_script(
        JOB, args.today, settings,
        lambda market: lambda ctx: manual_setup(ctx, market, progress_factory(JOB)),
        clock=lambda: dt.datetime.now(dt.UTC),
        **updates,
    )


if __name__ == "__main__":
    sys.exit(main())
