"""Placeholder: the US ETF trend pipeline (a later issue) is not built yet.

It says so and exits non-zero rather than pretend to work."""

from __future__ import annotations

import sys

from lib.log import get_logger, setup_logging

JOB = "etf_pipeline"


def main(argv: list[str] | None = None) -> int:
    """Log that the job does not exist yet; exit 3."""
    setup_logging(JOB)
    get_logger().error("etf_pipeline is not implemented yet: the US ETF trend pipeline (a later issue)")
    return 3


if __name__ == "__main__":
    sys.exit(main())
