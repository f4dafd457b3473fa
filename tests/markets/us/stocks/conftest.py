"""Fixtures of the US stocks' tests: a few real sample tickers' bars in a replay folder, settings on it, and a
run of us_stocks_update's job on the "us_" scope of a fresh embedded store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from lib.markets.us.stocks.job import stocks_job
from lib.markets.us.stocks.market import StocksCollector, us_stocks_market
from lib.ops.alerts import alert_after_job
from lib.spine.runner import run_job
from tests.conftest import FakeClock

SAMPLE = Path(__file__).resolve().parents[4] / "data" / "sample" / "us_stocks" / "bars"
TICKERS = ("AAPL", "MSFT", "NVDA", "JPM", "BRK-B")  # largest first, as the universe lists them
FIRST, LAST = "2025-08-01", "2025-09-30"


def write_bars(folder: Path, tickers=TICKERS, first: str = FIRST, last: str = LAST) -> Path:
    """The sample's bars of these tickers between the dates, as a replay folder's bars/<TICKER>.csv."""
    (folder / "bars").mkdir(parents=True, exist_ok=True)
    for ticker in tickers:
        frame = pd.read_csv(SAMPLE / f"{ticker}.csv", dtype=str)
        frame.loc[(frame["date"] >= first) & (frame["date"] <= last)].to_csv(folder / "bars" / f"{ticker}.csv",
                                                                             index=False)
    return folder


@pytest.fixture
def replay_dir(tmp_path) -> Path:
    return write_bars(tmp_path / "us_stocks")


@pytest.fixture
def stock_settings(make_settings, replay_dir):
    return make_settings(us_stocks=True, us_stocks_sources=["replay"], us_stocks_replay_dir=replay_dir,
                         us_stocks_batch_size=2, us_stocks_lease_seconds=60, setup_history_sessions=5)


def seed_universe(storage, tickers=TICKERS, day: str = "2025-08-29") -> None:
    """Active universe documents (the us-universe contract), largest first."""
    docs = [(t, {"$set": {"ticker": t, "name": t, "exchange": "Q", "market_cap": 1e12 / (i + 1), "currency": "USD",
                          "is_active": True, "as_of_date": day, "first_seen": day}})
            for i, t in enumerate(tickers)]
    storage.universe.apply_universe(docs)


def new_york(day: str, hour: int = 20) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=ZoneInfo("America/New_York"))


def run_stocks(storage, settings, today: str, clock: FakeClock, setup: bool = False, redo=(), market=None,
               lock: str | None = None) -> int:
    """us_stocks_update as the script runs it (universe refresh aside: the tests seed the universe); `lock`: a
    worker's own lock (a per-host lock, as run_script takes for a dataset shared by workers)."""
    market = market or us_stocks_market(settings, sleep=lambda _s: None)
    collector = market.collector
    assert isinstance(collector, StocksCollector)
    collector.sleep = lambda seconds: clock.advance(seconds=seconds)
    code = run_job("us_stocks_update", settings, storage, new_york(today), clock,
                   lambda ctx: stocks_job(ctx, market, setup=setup, redo=redo, refresh=None),
                   lock_name=lock or market.lock, after=alert_after_job, tz=market.calendar.tz)
    clock.advance(minutes=1)
    return code


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime(2025, 10, 1, 2, 0, tzinfo=dt.UTC))


@pytest.fixture
def us_storage(storage):
    scoped = storage.scoped("us_")
    seed_universe(scoped)
    return scoped
