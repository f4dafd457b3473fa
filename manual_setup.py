"""Run once at install: create indexes, load the last N KRX sessions (resumable), build target_tickers."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable

from lib.cli import add_today_argument, dataset_zone, progress_bars, run_script
from lib.config import Settings
from lib.spine.catchup import manual_setup
from lib.spine.market import Market
from lib.spine.runner import JobContext

DATASET = "krx.bars"  # the registered dataset it works on (lib/markets)
JOB = "manual_setup"


def _sessions(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 5000:
        raise argparse.ArgumentTypeError("--sessions takes a number from 1 to 5000")
    return value


def _body(market: Market) -> Callable[[JobContext], None]:
    def run(ctx: JobContext) -> None:
        with progress_bars(JOB) as bars:
            manual_setup(ctx, market, bars)

    return run


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, load settings, run the initial load; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    add_today_argument(parser, dataset_zone(DATASET))
    parser.add_argument("--sessions", type=_sessions, help="sessions of history to load (SETUP_HISTORY_SESSIONS)")
    args = parser.parse_args(argv)
    updates = {"setup_history_sessions": args.sessions} if args.sessions else {}
    return run_script(
        DATASET, JOB, args.today, settings,
        _body,
        clock=lambda: dt.datetime.now(dt.UTC),
        **updates,
    )


if __name__ == "__main__":
    sys.exit(main())
