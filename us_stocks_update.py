"""Cron, 07:10 and 11:10 KST Tue-Sat: the US stocks' universe (weekly) and daily bars of every due XNYS session
since the last completed one (self-healing), shared with the other workers of the run (US_WORKER_ID); `--setup`
at install loads the setup window (SETUP_HISTORY_SESSIONS) after reading the universe."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from lib.cli import add_today_argument, dataset_zone, parse_day, run_script
from lib.config import Settings

DATASET = "us.stocks"  # the registered dataset it works on (lib/markets/us)
JOB = "us_stocks_update"


def _sessions(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 5000:
        raise argparse.ArgumentTypeError("--sessions takes a number from 1 to 5000")
    return value


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, load settings, run the universe refresh and the catch-up (or the setup); returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    add_today_argument(parser, dataset_zone(DATASET))
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--setup", action="store_true", help="first install: read the universe, load the setup window")
    mode.add_argument(
        "--redo", type=parse_day, action="append", default=[], metavar="YYYY-MM-DD",
        help="collect this session again even if it is recorded as done (repeatable)",
    )
    parser.add_argument("--sessions", type=_sessions, help="with --setup: sessions of history (SETUP_HISTORY_SESSIONS)")
    args = parser.parse_args(argv)
    if args.sessions and not args.setup:
        parser.error("--sessions goes with --setup")
    def body(market):  # noqa: ANN001, ANN202 - run_script's factory
        from lib.markets.us.stocks.job import stocks_job

        return lambda ctx: stocks_job(ctx, market, setup=args.setup, redo=args.redo, sessions=args.sessions)

    return run_script(DATASET, JOB, args.today, settings, body, clock=lambda: dt.datetime.now(dt.UTC))


if __name__ == "__main__":
    sys.exit(main())
