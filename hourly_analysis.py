"""Cron, hourly 19:10-08:10 KST: analyse the latest collected trading day, a quota of tickers per run."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from lib.analysis.job import hourly_analysis
from lib.analysis.screener import discover
from lib.cli import add_today_argument, dataset_zone, run_script
from lib.config import Settings

DATASET = "krx.bars"  # the registered dataset it works on (lib/markets)
JOB = "hourly_analysis"


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, load settings, analyse what is pending; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    add_today_argument(parser, dataset_zone(DATASET))
    args = parser.parse_args(argv)
    return run_script(
        DATASET, JOB, args.today, settings,
        lambda market: lambda ctx: hourly_analysis(ctx, market, discover()),
        clock=lambda: dt.datetime.now(dt.UTC),
        lock_name="analysis",
    )


if __name__ == "__main__":
    sys.exit(main())
