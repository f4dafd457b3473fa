"""Placeholder: technical analysis and screeners (issue #3) is not built yet.

It says so and exits non-zero rather than pretend to work."""

from __future__ import annotations

import sys

from lib.log import get_logger, setup_logging

JOB = "hourly_analysis"


def main(argv: list[str] | None = None) -> int:
    """Log that the job does not exist yet; exit 3."""
    setup_logging(JOB)
    get_logger().error("hourly_analysis is not implemented yet: technical analysis and screeners (issue #3)")
    return 3


if __name__ == "__main__":
    sys.exit(main())
