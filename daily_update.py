"""Cron, 19:00 KST Mon-Fri: collect every due KRX session since the last completed one (self-healing)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from lib.cli import add_today_argument, dataset_zone, parse_day, run_script
from lib.config import Settings
from lib.spine.catchup import daily_update

DATASET = "krx.bars"  # the registered dataset it works on (lib/markets)
JOB = "daily_update"


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, load settings, run the catch-up; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    add_today_argument(parser, dataset_zone(DATASET))
    parser.add_argument(
        "--redo", type=parse_day, action="append", default=[], metavar="YYYY-MM-DD",
        help="collect this session again even if it is recorded as done (repeatable)",
    )
    args = parser.parse_args(argv)
    return run_script(
        DATASET, JOB, args.today, settings, lambda market: lambda ctx: daily_update(ctx, market, args.redo),
        clock=lambda: dt.datetime.now(dt.UTC),
    )


if __name__ == "__main__":
    sys.exit(main())
