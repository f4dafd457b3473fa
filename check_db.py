"""Show the pipeline's state: per market the collected range, missing, failed and no_data days and how far
behind it is; the universe and the analysis lag; the last run of every job; the database size per collection.

Exit codes: 0 nothing needs attention, 1 something does (listed under "Needs attention"; also when the
database cannot be reached), 2 nothing collected yet or a setting is wrong. Read-only: no lock, no record."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from lib.cli import add_today_argument, as_of_for, exit_code, open_storage
from lib.config import Settings, load_settings
from lib.errors import PipelineError
from lib.log import get_logger, setup_logging
from lib.status import gather
from lib.status_view import render_text, to_json

JOB = "check_db"


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, read the stored state, print it; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_today_argument(parser)
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print JSON (for monitors) instead of text")
    shown.add_argument("--quiet", action="store_true", help="print only what needs attention (for cron mail)")
    parser.add_argument("--no-sizes", action="store_true", help="skip the database sizes (one command per collection)")
    args = parser.parse_args(argv)
    setup_logging(JOB)
    try:
        settings = settings or load_settings()
        setup_logging(JOB, settings.log_level, settings.log_warnings_file)
        now = dt.datetime.now(dt.UTC)
        today = as_of_for(args.today, now).date() if args.today else None
        storage = open_storage(settings)
        status = gather(storage, settings, now, today, sizes=not args.no_sizes)
    except PipelineError as exc:
        get_logger().error("%s", exc)
        return exit_code(exc)
    text = to_json(status) if args.json else render_text(status, quiet=args.quiet)
    if text:
        print(text)
    return status.exit_code


if __name__ == "__main__":
    sys.exit(main())
