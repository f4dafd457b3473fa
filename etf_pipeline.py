"""Cron, after the US close (07:30 and 11:30 KST, Tue-Sat): the seed's five stages for every XNYS session that
is due and not yet completed (self-healing): benchmark and sector ETF bars, trending ETFs, the trending ETFs'
top holdings and their history, the 5/10/20-session portfolios, and the realised performance of every
portfolio still running. The first run loads the last US_FIRST_RUN_SESSIONS sessions."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from lib.cli import add_today_argument, dataset_zone, parse_day, run_script
from lib.config import Settings
from lib.markets.us.pipeline import etf_pipeline

DATASET = "us.etf_bars"  # the registered dataset it works on (lib/markets)
JOB = "etf_pipeline"


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, load settings, process the pending sessions; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    add_today_argument(parser, dataset_zone(DATASET))
    parser.add_argument(
        "--redo", type=parse_day, action="append", default=[], metavar="YYYY-MM-DD",
        help="run the five stages for this session again even if it is recorded as done (repeatable)",
    )
    args = parser.parse_args(argv)
    return run_script(
        DATASET, JOB, args.today, settings, lambda market: lambda ctx: etf_pipeline(ctx, market, args.redo),
        clock=lambda: dt.datetime.now(dt.UTC),
    )


if __name__ == "__main__":
    sys.exit(main())
