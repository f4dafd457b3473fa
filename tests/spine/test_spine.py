"""One spine, two markets: a second market (here a small US one on XNYS, real SPY/QQQ closes) plugs into the
same catch-up, chain, calendar, runner and locks, with its own day records, its own lock and requests that
cover a whole missed month per ticker."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pandas as pd
import pytest

from lib.errors import EmptyAnswerError
from lib.spine.calendar import TradingCalendar, _exchange
from lib.spine.catchup import daily_update, manual_setup
from lib.spine.chain import Attempt, DayUnavailable, Request, Source, SourceChain
from lib.spine.market import Collector, DayFetch, Fetched, Market
from lib.spine.runner import JobContext, run_job
from tests.conftest import FIXTURES
from tests.helpers import evening, run_collection


def xkrx() -> TradingCalendar:
    """The KRX calendar with no overrides."""
    return TradingCalendar(exchange="XKRX", settings_prefix="KRX")

D = dt.date
US_FILE = FIXTURES / "us_etf_small.csv"  # SPY and QQQ, 2024-11-01..2025-01-31, from ../shared/data/us_etf
CARTER = D(2025, 1, 9)  # NYSE closed for President Carter's funeral, declared late


class RangeSource(Source):
    """A network source that answers one ticker over a range of sessions in one request (yfinance's way)."""

    name = "toy_range"

    def __init__(self, calendar: TradingCalendar) -> None:
        frame = pd.read_csv(US_FILE)
        self.closes = {(row.ticker, D.fromisoformat(row.date)): row.close for row in frame.itertuples()}
        self.calendar = calendar
        self.requests: list[Request] = []

    def build_query(self, request: Request) -> Request:
        return request

    def fetch_raw(self, query: Request) -> dict[dt.date, float]:
        self.requests.append(query)
        return {day: self.closes[(query.part, day)] for day in query.days if (query.part, day) in self.closes}

    def normalise(self, raw: dict[dt.date, float], query: Request) -> dict[dt.date, float]:
        return raw

    def validate(self, data: dict[dt.date, float], query: Request) -> dict[dt.date, float]:
        if not data:
            raise EmptyAnswerError(f"{self.name} {query}: no rows")
        return data

    def available_at(self, day: dt.date) -> dt.datetime:
        return self.calendar.close_at(day) + dt.timedelta(hours=1)


class UsCollector(Collector):
    """Two ETFs; one request per ticker over the whole batch; closes kept in memory."""

    parts = ("SPY", "QQQ")
    counters = ("closes_written",)

    def __init__(self) -> None:
        self.stored: dict[tuple[str, dt.date], float] = {}

    def fetch(
        self, chain: SourceChain, wanted: Mapping[dt.date, Sequence[str]], now: dt.datetime
    ) -> Iterator[Fetched]:
        for ticker in self.parts:
            days = tuple(sorted(d for d, parts in wanted.items() if ticker in parts))
            try:
                delivery = chain.fetch(Request(ticker, days), now)
            except DayUnavailable as exc:
                for day in days:
                    yield Fetched(day, ticker, problem=exc)
                continue
            for day in days:
                if day in delivery.data:
                    yield Fetched(day, ticker, delivery=type(delivery)(delivery.source, {day: delivery.data[day]}))
                else:
                    missing = Attempt(delivery.source, "empty", f"{ticker} {day}: no row in the answer")
                    yield Fetched(day, ticker, problem=DayUnavailable(Request(ticker, (day,)), [missing]))

    def store(self, ctx: JobContext, days: Sequence[DayFetch]) -> None:
        for fetched in days:
            for ticker, delivery in fetched.delivered.items():
                self.stored[(ticker, fetched.day)] = delivery.data[fetched.day]
                ctx.counters["closes_written"] += 1


def us_market(calendar: TradingCalendar | None = None) -> Market:
    calendar = calendar or TradingCalendar(exchange="XNYS", settings_prefix="US")
    chain = SourceChain([RangeSource(calendar)], min_gap_seconds=0, sleep=lambda _s: None)
    return Market("US", "toy_update", "toy_collection", calendar, chain, UsCollector(), "toy_setup.py")


def run_us(job: str, storage, settings, market: Market, day: dt.date, clock) -> int:
    as_of = dt.datetime.combine(day, dt.time(20, 0), tzinfo=market.calendar.tz)
    if job == "setup":
        body: Any = lambda ctx: manual_setup(ctx, market, sessions=5)  # noqa: E731
    else:
        body = lambda ctx: daily_update(ctx, market)  # noqa: E731
    code = run_job(job, settings, storage, as_of, clock, body, lock_name=market.lock)
    clock.advance(minutes=1)
    return code


@pytest.fixture
def settings(make_settings):
    return make_settings(setup_history_sessions=5)


def test_the_calendar_takes_any_exchange_with_its_time_zone_and_closes():
    nyse = TradingCalendar(exchange="XNYS", settings_prefix="US")
    assert str(nyse.tz) == "America/New_York"
    assert not nyse.is_session(D(2024, 11, 28))  # Thanksgiving
    assert nyse.close_at(D(2024, 11, 29)).hour == 13  # the early close after it
    assert nyse.close_at(D(2024, 12, 2)) == dt.datetime(2024, 12, 2, 16, tzinfo=nyse.tz)
    assert nyse.local_date(dt.datetime(2024, 12, 3, 2, 0, tzinfo=dt.UTC)) == D(2024, 12, 2)
    assert nyse.closed_line(CARTER) == "US_EXTRA_CLOSED_DAYS=2025-01-09"
    assert xkrx().closed_line(D(2026, 6, 3)) == "KRX_EXTRA_CLOSED_DAYS=2026-06-03"


def test_a_second_market_catches_up_a_missed_month_with_one_request_per_ticker_and_its_own_records(
    storage, settings, clock
):
    market = us_market()
    assert run_us("setup", storage, settings, market, D(2024, 11, 8), clock) == 0
    source = market.chain.sources[0]
    source.requests.clear()
    assert run_us("update", storage, settings, market, D(2024, 12, 6), clock) == 0
    missed = market.calendar.sessions_between(D(2024, 11, 11), D(2024, 12, 6))
    assert D(2024, 11, 28) not in missed  # Thanksgiving is no session
    # One request per ticker per calendar month, not one per ticker per day.
    assert [(r.part, min(r.days), max(r.days)) for r in source.requests] == [
        ("SPY", D(2024, 11, 11), D(2024, 11, 29)), ("QQQ", D(2024, 11, 11), D(2024, 11, 29)),
        ("SPY", D(2024, 12, 2), D(2024, 12, 6)), ("QQQ", D(2024, 12, 2), D(2024, 12, 6)),
    ]
    assert market.collector.stored[("SPY", D(2024, 11, 29))] == 602.55
    records = storage.jobs.day_records("toy_update")
    assert records[-1]["_id"] == "2024-12-06_toy_update" and records[-1]["sources"] == {"SPY": "toy_range",
                                                                                        "QQQ": "toy_range"}
    assert storage.jobs.done_days("toy_update") >= set(missed)
    assert storage.jobs.done_days("daily_update") == set()  # KRX's day records are its own
    assert storage.jobs.runs("update")[0]["closes_written"] == 2 * len(missed)
    # Its own lock: a KRX collection holding its lock does not stop the US one.
    ttl = dt.timedelta(minutes=30)
    assert storage.jobs.acquire_lock("stock_data_collection", "krx-run", clock(), ttl)[0]
    assert run_us("update", storage, settings, market, D(2024, 12, 9), clock) == 0
    assert D(2024, 12, 9) in storage.jobs.done_days("toy_update")


def test_the_closure_rule_serves_the_second_market_too(storage, settings, clock, caplog):
    _, closes = _exchange("XNYS")
    lagging = TradingCalendar(base_sessions=[*closes, CARTER], exchange="XNYS", settings_prefix="US")
    market = us_market(lagging)
    assert run_us("setup", storage, settings, market, D(2025, 1, 6), clock) == 0
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        assert run_us("update", storage, settings, market, D(2025, 1, 13), clock) == 0
    assert "Add `US_EXTRA_CLOSED_DAYS=2025-01-09` to .env" in caplog.text
    assert {D(2025, 1, 10), D(2025, 1, 13)} <= storage.jobs.done_days("toy_update")
    assert CARTER not in storage.jobs.done_days("toy_update")
    records = {r["date_kst"]: r for r in storage.jobs.day_records("toy_update")}
    assert records["2025-01-09"]["status"] == "empty"


def test_krx_and_the_second_market_share_one_database_without_touching_each_other(storage, settings, clock):
    assert run_collection("manual_setup", storage, settings, evening(D(2024, 11, 29)), clock) == 0
    market = us_market()
    assert run_us("setup", storage, settings, market, D(2024, 11, 29), clock) == 0
    krx_days, us_days = storage.jobs.done_days("daily_update"), storage.jobs.done_days("toy_update")
    assert D(2024, 11, 28) in krx_days and D(2024, 11, 28) not in us_days  # Thanksgiving: KRX trades
    assert len(krx_days) == len(us_days) == 5
    storage.jobs.forget_day(D(2024, 11, 29), job="toy_update")
    assert D(2024, 11, 29) in storage.jobs.done_days("daily_update")
    assert D(2024, 11, 29) not in storage.jobs.done_days("toy_update")
