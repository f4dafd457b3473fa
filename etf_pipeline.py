"""Cron, after the US close (07:30 and 11:30 KST, Tue-Sat): the seed's five stages for every XNYS session that
is due and not yet completed (self-healing): benchmark and sector ETF bars, trending ETFs, the trending ETFs'
top holdings and their history, the 5/10/20-session portfolios, and the realised performance of every
portfolio still running."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable

from lib.cli import parse_day
from lib.config import Settings
from lib.jobs.etf import etf_pipeline
from lib.jobs.us import run_us_script

JOB = "etf_pipeline"


def main(
    argv: list[str] | None = None,
    settings: Settings | None = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> int:
    """Parse args, load settings, process the pending sessions; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--today", type=parse_day, metavar="YYYY-MM-DD",
        help="act as at the end of this New York date (replays, tests); default: the clock",
    )
    args = parser.parse_args(argv)
    return run_us_script(JOB, args.today, settings, clock, lambda ctx, market, chain, plan: etf_pipeline(
        ctx, market, chain, plan))


if __name__ == "__main__":
    sys.exit(main())
