"""Placeholder: the monthly ETF rebalance (a later issue) is not built yet.

It says so and exits non-zero rather than pretend to work."""

from __future__ import annotations

import sys

from lib.log import get_logger, setup_logging

JOB = "monthly_rebalance"


def main(argv: list[str] | None = None) -> int:
    """Log that the job does not exist yet; exit 3."""
    setup_logging(JOB)
    get_logger().error("monthly_rebalance is not implemented yet: the monthly ETF rebalance (a later issue)")
    return 3


if __name__ == "__main__":
    sys.exit(main())
