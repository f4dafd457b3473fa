"""yfinance 1.7.0's own parsing, run offline on answers in Yahoo's documented shapes built from the real data
in data/sample/us (tests/yahoo_stub.py), through the requests backend (YF_DISABLE_CURL_CFFI=1, set by conftest)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from lib.errors import BadDataError, EmptyAnswerError, RateLimitedError, SourceBlockedError, TransientSourceError
from lib.markets.us.sources import BarsQuery, HoldingsQuery, ProfileQuery
from lib.markets.us.yfinance_source import YFinanceSource
from lib.spine.chain import DayUnavailable, Request, SourceChain
from tests.yahoo_stub import US_SAMPLE, YahooStub

D = dt.date


@pytest.fixture
def stub() -> YahooStub:
    return YahooStub()


@pytest.fixture
def source(stub, tmp_path) -> YFinanceSource:
    def close_at(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(20, 0), tzinfo=dt.UTC)

    return YFinanceSource(10, dt.timedelta(minutes=60), close_at, 60.0, http="requests", cache_dir=tmp_path / "yf",
                          transport=stub)


def bars(source: YFinanceSource, ticker: str, *sessions: dt.date) -> pd.DataFrame:
    query = BarsQuery(ticker, tuple(sessions))
    return source.normalise(source.fetch_raw(query), query)


def test_yfinance_speaks_through_requests_in_the_tests(source):
    source._load()
    from yfinance import _http

    assert not _http.HAS_CURL_CFFI


def test_daily_bars_come_back_as_the_real_closes_on_new_york_dates(source, stub):
    frame = bars(source, "XLF", D(2025, 7, 2), D(2025, 7, 3), D(2025, 7, 7))
    real = pd.read_csv(US_SAMPLE / "us_etf" / "XLF.csv").set_index("date")
    assert list(frame["date"]) == [D(2025, 7, 2), D(2025, 7, 3), D(2025, 7, 7)]
    for row in frame.itertuples():
        assert row.close == pytest.approx(real.loc[row.date.isoformat(), "close"], rel=1e-12)
        assert row.volume == real.loc[row.date.isoformat(), "volume"]
    assert stub.calls[("XLF", "chart")] == 1  # one request for the whole span


def test_dividends_in_the_chart_events_reach_the_bars(source):
    # XLU went ex-dividend on 2025-06-23 (0.5554 USD per share, us_etf/XLU.csv).
    frame = bars(source, "XLU", D(2025, 6, 20), D(2025, 6, 23), D(2025, 6, 24)).set_index("date")
    assert frame.loc[D(2025, 6, 23), "dividends"] > 0 and frame.loc[D(2025, 6, 24), "dividends"] == 0


def test_a_korean_holding_is_dated_in_seoul(source):
    frame = bars(source, "005930.KS", D(2025, 6, 2), D(2025, 6, 3), D(2025, 6, 4))
    assert list(frame["date"]) == [D(2025, 6, 2), D(2025, 6, 4)]  # 3 June 2025: KRX closed for the election
    assert frame["close"].tolist() == [56800.0, 57800.0]


def test_yahoo_s_live_row_after_the_last_session_never_reaches_the_data(source, stub):
    stub.live_row = dt.datetime(2025, 7, 8, 14, 30, tzinfo=dt.UTC)  # 10:30 in New York, session trading
    query = source.build_query(Request("XLF", (D(2025, 7, 2), D(2025, 7, 3), D(2025, 7, 7))))
    frame = source.normalise(source.fetch_raw(query), query)
    validated = source.validate(frame, query)
    assert [r["date"] for r in validated.rows] == list(query.sessions)


def test_top_holdings_are_the_ten_largest_with_weights_in_percent(source):
    query = HoldingsQuery("XLF", D(2025, 7, 2))
    frame = source.normalise(source.fetch_raw(query), query)
    assert len(frame) == 10 and frame["ticker"].tolist()[:3] == ["BRK-B", "JPM", "V"]
    assert frame["holding_percent"].iloc[0] == pytest.approx(12.560904)


def test_holdings_of_a_stock_are_bad_data(source):
    with pytest.raises(BadDataError, match="AAPL holdings"):
        source.fetch_raw(HoldingsQuery("AAPL", D(2025, 7, 2)))


def test_a_profile_from_info_with_sector_shares_and_market_cap(source, stub):
    query = ProfileQuery("BRK-B", D(2025, 7, 2))
    profile = source.normalise(source.fetch_raw(query), query)
    assert profile == {"name": "Berkshire Hathaway", "sector": "Financials", "shares_outstanding": 2157334741.0,
                       "market_cap": 1073381900288.0, "currency": "USD", "quote_type": "EQUITY"}
    korean = source.normalise(source.fetch_raw(ProfileQuery("005930.KS", D(2025, 7, 2))), query)
    assert korean["market_cap"] is None and korean["currency"] == "KRW"


@pytest.mark.parametrize(
    ("failure", "error", "message"),
    [
        (429, RateLimitedError, "429"),
        (500, TransientSourceError, "HTTP 500"),
        ("timeout", TransientSourceError, "ReadTimeout"),
        (403, SourceBlockedError, "HTTP 403"),
        ("no_data", EmptyAnswerError, "no price data found"),
    ],
)
def test_failures_become_the_pipeline_s_error_kinds(source, stub, failure, error, message):
    stub.failures[("SPY", "chart")] = failure
    with pytest.raises(error, match=message):
        bars(source, "SPY", D(2025, 7, 2))


def test_an_unknown_symbol_is_an_empty_answer(source):
    with pytest.raises(EmptyAnswerError):
        bars(source, "NOSUCH", D(2025, 7, 2))


NOW = dt.datetime(2025, 7, 3, tzinfo=dt.UTC)


def test_the_chain_waits_out_a_rate_limit_longer_than_other_errors(source, stub):
    pauses: list[float] = []
    chain = SourceChain([source], min_gap_seconds=0, max_attempts=3, backoff_seconds=5, sleep=pauses.append)
    stub.failures[("SPY", "chart")] = 429
    with pytest.raises(DayUnavailable, match="transient"):
        chain.fetch(Request("SPY", (D(2025, 7, 2),)), NOW)
    # three attempts, each two requests: yfinance itself asks once more with its other cookie strategy on a 4xx
    assert pauses == [60, 120] and stub.calls[("SPY", "chart")] == 6
    stub.failures.clear()
    delivery = chain.fetch(Request("SPY", (D(2025, 7, 2),)), NOW)
    assert delivery.source == "yfinance" and delivery.data.rows[0]["close"] == pytest.approx(620.4500122070312)


def test_a_session_is_due_an_hour_after_its_close(source):
    assert source.available_at(D(2025, 7, 2)) == dt.datetime(2025, 7, 2, 21, 0, tzinfo=dt.UTC)


def test_network_sources_keep_a_minimum_gap(source):
    now = {"t": 0.0}
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(round(seconds, 3))
        now["t"] += seconds

    chain = SourceChain([source], min_gap_seconds=2.0, sleep=sleep, monotonic=lambda: now["t"])
    for ticker in ("SPY", "QQQ", "IWM"):
        chain.fetch(Request(ticker, (D(2025, 7, 2),)), NOW)
        now["t"] += 0.5
    assert pauses == [1.5, 1.5]
