"""Cron: read watermark datasets (disclosures, news, macro series) from where each stopped, page by page.

`python collect.py krx.disclosures krx.news` reads those datasets in turn, each under its own lock and run
record; `--all` reads every registered watermark dataset. A dataset that is off (its key blank) says so and is
skipped. The exit code is the worst of the datasets' (2 needs a person, 1 try again later)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from lib.cli import exit_code, parse_day, run_watermark_script
from lib.config import Settings, load_settings
from lib.errors import EXIT_CONFIG, PipelineError
from lib.log import get_logger, setup_logging
from lib.spine.registry import registry


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, read each named dataset; returns the worst exit code."""
    known = [d.key for d in registry().with_cadence("watermark")]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="*", metavar="DATASET", help=f"one or more of: {', '.join(known)}")
    parser.add_argument("--all", action="store_true", help="every registered watermark dataset")
    parser.add_argument("--today", type=parse_day, metavar="YYYY-MM-DD",
                        help="act as at the end of this date in each dataset's zone (replays, tests)")
    args = parser.parse_args(argv)
    chosen = known if args.all else args.datasets
    unknown = [key for key in chosen if key not in known]
    if not chosen or unknown:
        setup_logging("collect")
        what = f"unknown dataset {unknown[0]!r}" if unknown else "name the datasets to read (or --all)"
        get_logger().error("%s; the watermark datasets are: %s", what, ", ".join(known) or "none registered")
        return EXIT_CONFIG
    if settings is None:
        try:
            settings = load_settings()
        except PipelineError as exc:  # once, not once per dataset: every one would stop on the same setting
            setup_logging("collect")
            get_logger().error("%s (nothing read or recorded: the settings did not load)", exc)
            return exit_code(exc)
    codes = [run_watermark_script(key, args.today, settings, clock=lambda: dt.datetime.now(dt.UTC))
             for key in dict.fromkeys(chosen)]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
