"""Cron, every Sunday 23:00 KST (Sunday morning in New York): on the last Sunday of the month, merge the latest
5-, 10- and 20-session portfolios into the portfolio for the next 20 XNYS sessions; on any run, catch up a month
whose last Sunday passed without one. On another Sunday with nothing missed it says so and exits 0."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from lib.cli import parse_day, run_script
from lib.config import Settings
from lib.markets.us.batch import EtfPlan
from lib.markets.us.rebalance_job import monthly_rebalance

DATASET = "us.etf_bars"  # the registered dataset it works on (lib/markets)
JOB = "monthly_rebalance"


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, load settings, rebalance what is due; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--date", "--today", dest="date", type=parse_day, metavar="YYYY-MM-DD",
        help="act as at the end of this New York date (replays, tests); default: the clock",
    )
    parser.add_argument("--force", action="store_true", help="rebalance as of --date even if it is not the last Sunday")
    args = parser.parse_args(argv)
    return run_script(
        DATASET, JOB, args.date, settings,
        lambda market: lambda ctx: monthly_rebalance(ctx, market, EtfPlan.from_settings(ctx.settings), args.force),
        clock=lambda: dt.datetime.now(dt.UTC),
    )


if __name__ == "__main__":
    sys.exit(main())
