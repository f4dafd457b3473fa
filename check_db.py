"""Show the pipeline's state: per market the collected range, missing, failed and no_data days and how far
behind it is; the universe and the analysis lag; the last run of every job; the database size per collection.

Exit codes: 0 nothing needs attention, 1 something does (listed under "Needs attention"; also when the
database cannot be reached), 2 nothing collected yet or a setting is wrong. Read-only: no lock, no record."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import sys

from lib.cli import add_today_argument, read_only_script
from lib.config import Settings
from lib.log import KST
from lib.ops.status import gather
from lib.ops.status_view import render_text, to_json
from lib.storage import Storage

JOB = "check_db"


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, read the stored state, print it; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_today_argument(parser, KST)  # its report is dated in Korea time
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print JSON (for monitors) instead of text")
    shown.add_argument("--quiet", action="store_true", help="print only what needs attention (for cron mail)")
    parser.add_argument("--no-sizes", action="store_true", help="skip the database sizes (one command per collection)")
    args = parser.parse_args(argv)
    clock = functools.partial(dt.datetime.now, dt.UTC)

    def show(settings: Settings, storage: Storage, as_of: dt.datetime) -> int:
        today = as_of.astimezone(KST).date() if args.today else None
        # With --today the whole report, its heading included, is as of that day's evening.
        status = gather(storage, settings, as_of if args.today else clock(), today, sizes=not args.no_sizes)
        text = to_json(status) if args.json else render_text(status, quiet=args.quiet)
        if text:
            print(text)
        return status.exit_code

    return read_only_script(JOB, args.today, settings, show, clock, KST)


if __name__ == "__main__":
    sys.exit(main())
