"""Cron, hourly: analyse the latest collected trading day of one market (--market; KRX 19:10-08:10 KST, US
08:10 and 12:10 KST Tue-Sat), a quota of tickers per run."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from lib.analysis.job import hourly_analysis
from lib.analysis.screener import discover
from lib.cli import parse_day, run_script
from lib.config import Settings
from lib.display import priced_in
from lib.log import get_logger, setup_logging
from lib.spine.datasets import Dataset
from lib.spine.market import Market
from lib.spine.registry import registry
from lib.spine.runner import EXIT_CONFIG, JobContext


def analysed_dataset(market: str | None) -> Dataset | None:
    """The screened dataset of `market` (default: the first registered one, KRX's), None when there is none."""
    return registry().screened(market)


def analysis_job(dataset: Dataset) -> str:
    """The run records' name of a dataset's analysis: its screening subscriber's job ("hourly_analysis" for KRX,
    "us_analysis" for US stocks)."""
    return next(s.job for s in dataset.subscribers if s.screens)


def _analyse(ctx: JobContext, market: Market, currency: str) -> None:
    """The analysis, with the strategies' reasons stating prices in the market's currency."""
    with priced_in(currency):
        hourly_analysis(ctx, market, discover())


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse args, load settings, analyse what is pending for the market; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--market", metavar="NAME",
                        help="the market whose stocks to analyse (a market with screened stocks: "
                             f"{', '.join(d.market for d in registry().screened_all()) or 'none registered'}); "
                             "default: the first, KRX")
    parser.add_argument("--today", type=parse_day, metavar="YYYY-MM-DD",
                        help="act as at the end of this date in the market's time zone (Seoul, New York) for "
                             "replays and tests; default: the clock")
    args = parser.parse_args(argv)
    dataset = analysed_dataset(args.market)
    if dataset is None:
        setup_logging("hourly_analysis")
        known = ", ".join(d.market for d in registry().screened_all()) or "none (see `python check_db.py`)"
        get_logger().error("--market %s: no market with screened stocks of that name; known: %s", args.market, known)
        return EXIT_CONFIG
    job = analysis_job(dataset)
    return run_script(
        dataset.key, job, args.today, settings,
        lambda market: lambda ctx: _analyse(ctx, market, dataset.currency),
        clock=lambda: dt.datetime.now(dt.UTC),
        # KRX keeps its lock's name ("analysis"); another market's analysis runs beside it under its own
        lock_name=f"{dataset.namespace}analysis",
        off_note="; its analysis has nothing to do",  # a market this install does not run (US_STOCKS=false)
    )


if __name__ == "__main__":
    sys.exit(main())
