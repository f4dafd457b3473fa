"""A second screened market for the tests of the screeners on any market: a dataset like the planned `us.stocks`
(lib/markets/us/__init__.py registers the real one), and its `us_` scope seeded with a few real US stocks' bars
(data/sample/us/us_stocks: yfinance auto_adjust, ~125 sessions to 2025-09-30) as a collection stores them."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from lib.ops.alerts import alert_after_job
from lib.spine.datasets import Dataset, Registry, Subscriber, lazy, registry_of
from lib.spine.registry import registry
from lib.spine.runner import run_job
from lib.storage import Storage
from lib.storage.dates import to_utc_midnight
from tests.conftest import US_SAMPLE

NEW_YORK = ZoneInfo("America/New_York")
US_JOB = "us_stocks_update"  # the collection job of the planned us.stocks dataset
US_ANALYSIS = "us_analysis"
US_TICKERS = ("AAPL", "MSFT", "JPM")
FIRST_US_DAY = dt.date(2025, 4, 1)  # ~125 sessions: enough for most indicators, small enough to stay fast
LAST_US_DAY = dt.date(2025, 9, 30)  # where the demo's US part ends (the files go on to 2025-10-08)


def _us_market(settings: Any) -> Any:
    """The US market on the sample folder's replay (its calendar and how late a session is published), with the
    stocks' collection job."""
    from tests.helpers import us_test_market

    return replace(us_test_market(settings), job=US_JOB, setup_command="us_stocks_update.py --setup")


US_STOCKS = Dataset(
    market="us", kind="stocks", label="US stocks (XNYS)", cadence="session", job=US_JOB, lock="us_stocks",
    tz=NEW_YORK, setup="run `python us_stocks_update.py --setup`", redo="run `python us_stocks_update.py --redo {day}`",
    closed_setting="US_EXTRA_CLOSED_DAYS", calendar=lazy("lib.markets.us.market", "us_calendar"), build=_us_market,
    subscribers=(Subscriber(US_ANALYSIS, lazy("lib.analysis.status", "analysis_status"),
                            lambda storage: storage.picks.latest_analysis_day(), None, screens=True),),
    quarantines=True, namespace="us_", currency="USD",
)


def two_markets(off: Callable[[Any], str | None] | None = None) -> Registry:
    """The installed registry with this US stocks dataset in place of the installed one (or added after KRX's),
    optionally off on this install."""
    kept = [d for d in registry().datasets if d.key != US_STOCKS.key]
    return registry_of((*kept, replace(US_STOCKS, off=off)))


def sample_bars(ticker: str) -> list[dict[str, Any]]:
    """A sample file's bars as stock_data documents."""
    with (US_SAMPLE / "us_stocks" / f"{ticker}.csv").open() as handle:
        return [
            {"date": to_utc_midnight(dt.date.fromisoformat(r["date"])), "open": float(r["open"]),
             "high": float(r["high"]), "low": float(r["low"]), "close": float(r["close"]),
             "volume": int(float(r["volume"]))}
            for r in csv.DictReader(handle) if FIRST_US_DAY.isoformat() <= r["date"] <= LAST_US_DAY.isoformat()
        ]


def seed_us(storage: Storage, tickers: Sequence[str] = US_TICKERS) -> Storage:
    """The `us_` scope holding the tickers' bars, their universe documents (the contract's shape, market caps from
    the sample's meta.csv) and a completed day record for every session; returns the scoped store."""
    us = storage.scoped("us_")
    with (US_SAMPLE / "us_stocks" / "meta.csv").open() as handle:
        meta = {r["ticker"]: r for r in csv.DictReader(handle)}
    days: set[dt.datetime] = set()
    for ticker in tickers:
        bars = sample_bars(ticker)
        us.bars.upsert_bars({ticker: bars})
        days |= {b["date"] for b in bars}
    us.universe.apply_universe(
        (t, {"$set": {"ticker": t, "name": meta[t]["name"], "exchange": "Q" if t in ("AAPL", "MSFT") else "N",
                      "market_cap": float(meta[t]["market_cap"]), "currency": "USD", "sector": meta[t]["sector"],
                      "shares_outstanding": int(meta[t]["shares_outstanding"]), "is_active": True,
                      "as_of_date": LAST_US_DAY.isoformat(), "first_seen": FIRST_US_DAY.isoformat()}})
        for t in tickers
    )
    for day in sorted(days):
        us.jobs.mark_day(day.date(), "completed", {"sources": {"all": "replay"}}, job=US_JOB)
    return us


def run_us_analysis(storage: Storage, settings: Any, as_of: dt.datetime, clock: Callable[[], dt.datetime]) -> int:
    """Run the US analysis as `hourly_analysis.py --market us` does, on the `us_` scope of this storage."""
    from lib.analysis.job import hourly_analysis
    from lib.analysis.screener import discover

    market, strategies = _us_market(settings), discover()
    return run_job(US_ANALYSIS, settings, storage.scoped("us_"), as_of, clock,
                   lambda ctx: hourly_analysis(ctx, market, strategies), lock_name="us_analysis",
                   after=alert_after_job, tz=NEW_YORK)
