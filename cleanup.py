"""Cron, daily 09:30 KST: delete what the RETENTION_*_DAYS settings no longer keep (old screening-index rows,
stored picks, run records, alert records, AI results, rejected records of the US and watermark datasets; prices
only if a bound is set) and expired API rate-limit counters, never what a screen, a track record or the catch-up
still needs. Safe to run any time: its own lock and run record, and a second run deletes nothing new. --dry-run
prints what would go and changes nothing."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import sys

from lib.analysis.screener import discover
from lib.cli import read_only_script, run_script
from lib.config import Settings
from lib.ops.cleanup import cleanup, plan, render_plan
from lib.spine.calendar import TradingCalendar
from lib.spine.registry import registry
from lib.storage import Storage

JOB = "cleanup"


def other_markets(settings: Settings) -> list[tuple[str, TradingCalendar, str]]:
    """The markets with screened stocks after the first (US stocks): (namespace, calendar, collection job), so their
    own collections get the same retention."""
    return [(d.namespace, d.calendar(settings), d.job) for d in registry().screened_all()[1:] if d.calendar]


def screened_dataset() -> str:
    """The screened dataset's key (the registry's): its calendar dates the screening rows, its day records the
    prices' retention."""
    screened = registry().screened()
    return screened.key if screened else "(no screened dataset)"


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, then delete (or with --dry-run list) what retention no longer keeps; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="print what would be deleted; change nothing")
    args = parser.parse_args(argv)
    clock = functools.partial(dt.datetime.now, dt.UTC)
    if args.dry_run:

        def show(settings: Settings, storage: Storage, _as_of: dt.datetime) -> int:
            dataset = registry().get(screened_dataset())
            print(render_plan(plan(storage, settings, dataset.calendar(settings), discover(), clock(),
                                   job=dataset.job, others=other_markets(settings))))
            return 0

        return read_only_script(JOB, None, settings, show, clock)
    # Only the screened dataset's calendar and job: building its market would need its sources' credentials,
    # which an install that does not run that market lacks (MARKETS=us stopped here on KRX_OPENAPI_KEY).
    return run_script(
        screened_dataset(), JOB, None, settings,
        lambda dataset: lambda ctx: cleanup(ctx, dataset.calendar(ctx.settings), discover(), job=dataset.job,
                                            others=other_markets(ctx.settings)),
        clock=clock, lock_name="cleanup", build=False,
    )


if __name__ == "__main__":
    sys.exit(main())
