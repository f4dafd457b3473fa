"""Cron, every Sunday 23:00 KST (Sunday morning in New York): on the last Sunday of the month, merge the latest
5-, 10- and 20-session portfolios into the portfolio for the next 20 XNYS sessions; on any run, catch up a month
whose last Sunday passed without one. On another Sunday with nothing missed it says so and exits 0."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable

from lib.cli import parse_day
from lib.config import Settings
from lib.jobs.rebalance import monthly_rebalance
from lib.jobs.us import run_us_script

JOB = "monthly_rebalance"


def main(
    argv: list[str] | None = None,
    settings: Settings | None = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> int:
    """Parse args, load settings, rebalance what is due; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--date", "--today", dest="date", type=parse_day, metavar="YYYY-MM-DD",
        help="act as on this New York date (replays, tests); default: the clock",
    )
    parser.add_argument("--force", action="store_true", help="rebalance as of --date even if it is not the last Sunday")
    args = parser.parse_args(argv)
    return run_us_script(JOB, args.date, settings, clock,
                         lambda ctx, market, chain, plan: monthly_rebalance(ctx, market, plan, args.force))


if __name__ == "__main__":
    sys.exit(main())
