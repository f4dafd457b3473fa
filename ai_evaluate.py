"""Cron, 19:40 KST Mon-Fri: score the AI's predictions whose horizon has passed and store the leaderboard."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from lib.ai.evaluate import JOB, evaluate
from lib.cli import add_today_argument, dataset_zone, run_script
from lib.config import Settings

DATASET = "krx.bars"  # the registered dataset whose stored bars it scores against (lib/markets)


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, load settings, score what is due and store the leaderboard; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    add_today_argument(parser, dataset_zone(DATASET))
    args = parser.parse_args(argv)
    return run_script(
        DATASET, JOB, args.today, settings,
        # the dataset itself, not its Market: the job reads stored bars only, so no source's key is needed
        lambda dataset: lambda ctx: evaluate(ctx, dataset.calendar(ctx.settings), dataset.job),
        clock=lambda: dt.datetime.now(dt.UTC),
        lock_name=JOB,
        build=False,
    )


if __name__ == "__main__":
    sys.exit(main())
