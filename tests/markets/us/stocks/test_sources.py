"""The US stocks' batch source: a `yf.download(group_by="ticker")` answer normalised per ticker and put back as
traded, the split kept as the day's base price the analysis reads; a batch yfinance swallowed failures of."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest

from lib.analysis.corporate_actions import back_adjust, derive_actions
from lib.errors import RateLimitedError, TransientSourceError
from lib.markets.us.stocks.quarantine import screen_bars
from lib.markets.us.stocks.sources import StocksRequest, ticker_frames
from lib.markets.us.stocks.yfinance_bars import YFinanceStocksSource

# NVDA around its 10:1 split (ex-date 2024-06-10) as printed: 06-07 OHLCV and 06-10 as recorded in public
# repositories' fixtures (a Sina quote fixture; a yfinance study noting that auto_adjust=False returns 06-07's close
# as 120.89, split-adjusted, against the 1,208.88 printed). Yahoo sends the day before the split divided by 10.
PRINTED = {dt.date(2024, 6, 7): (1197.7, 1216.92, 1180.22, 1208.88, 41_238_499),
           dt.date(2024, 6, 10): (120.37, 123.09, 117.01, 121.79, 314_162_647)}
# AAPL on 2024-06-10 from data/sample/us_stocks/bars/AAPL.csv; its 06-07 row left out (a ticker with no bar on a
# day of the union index: yfinance pads it with NaN).
AAPL = (195.761266, 196.158962, 191.038737, 192.003128, 97_010_200)


def history(rows: dict[dt.date, tuple], splits: dict[dt.date, float]) -> pd.DataFrame:
    """A frame shaped like yfinance's Ticker.history(auto_adjust=False, actions=True) for a US stock."""
    index = pd.DatetimeIndex([pd.Timestamp(d, tz="America/New_York") for d in rows], name="Date")
    o, h, low, c, v = zip(*rows.values(), strict=True)
    return pd.DataFrame({"Open": o, "High": h, "Low": low, "Close": c, "Adj Close": c, "Volume": v,
                         "Dividends": 0.0, "Stock Splits": [splits.get(d, 0.0) for d in rows]}, index=index)


class FakeTicker:
    """yfinance.Ticker answering history() from a frame (no network); records what it was asked."""

    asked: list[dict] = []
    frames: dict[str, pd.DataFrame] = {}

    def __init__(self, symbol: str, session=None) -> None:
        self.symbol = symbol
        self._price_history = SimpleNamespace(_last_error=None)

    def history(self, **kwargs):
        FakeTicker.asked.append({"ticker": self.symbol, **kwargs})
        return FakeTicker.frames[self.symbol].copy()


@pytest.fixture
def downloaded(monkeypatch):
    import yfinance.multi

    yahoo = {d: (o / 10, h / 10, low / 10, c / 10, v * 10) if d < dt.date(2024, 6, 10) else (o, h, low, c, v)
             for d, (o, h, low, c, v) in PRINTED.items()}
    FakeTicker.asked, FakeTicker.frames = [], {
        "NVDA": history(yahoo, {dt.date(2024, 6, 10): 10.0}),
        "AAPL": history({dt.date(2024, 6, 10): AAPL}, {}),
    }
    monkeypatch.setattr(yfinance.multi, "Ticker", FakeTicker)
    source = YFinanceStocksSource(10, dt.timedelta(minutes=60), lambda d: None, http="requests")
    request = StocksRequest("batch 0001", (dt.date(2024, 6, 7), dt.date(2024, 6, 10)), tickers=("NVDA", "AAPL"))
    query = source.build_query(request)
    raw = source.fetch_raw(query)  # the real yf.download assembling the two tickers' answers
    return raw, source.validate(source.normalise(raw, query), query)


def test_a_multi_ticker_download_is_read_per_ticker(downloaded):
    raw, answer = downloaded
    assert raw.columns.names == ["Ticker", "Price"]
    assert {a["ticker"] for a in FakeTicker.asked} == {"NVDA", "AAPL"}
    assert all(a["auto_adjust"] is False and a["actions"] is True for a in FakeTicker.asked)
    assert sorted(answer.bars) == ["AAPL", "NVDA"] and answer.lacking == []
    aapl = answer.bars["AAPL"]
    assert aapl["date"].tolist() == [dt.date(2024, 6, 10)]  # the NaN padding of 06-07 is no bar
    assert aapl.iloc[0][["open", "high", "low", "close", "volume"]].tolist() == list(AAPL)
    assert ticker_frames(pd.DataFrame()) == {}


def test_prices_before_a_split_in_the_answer_are_put_back_as_traded(downloaded):
    nvda = downloaded[1].bars["NVDA"].set_index("date")
    for day, (o, h, low, c, v) in PRINTED.items():
        row = nvda.loc[day]
        assert row[["open", "high", "low", "close"]].tolist() == pytest.approx([o, h, low, c])
        assert row["volume"] == pytest.approx(v)
    assert nvda["splits"].tolist() == [0.0, 10.0]


def test_the_split_is_stored_as_the_base_price_the_analysis_derives_it_from(downloaded):
    bars = downloaded[1].bars
    screened = screen_bars(bars, {}, set(PRINTED), "yfinance")
    assert screened.held == []
    docs = screened.kept["NVDA"]
    assert docs[0]["base_price"] is None and docs[1]["base_price"] == pytest.approx(120.888)
    frame = pd.DataFrame(docs)
    actions = derive_actions("NVDA", frame)
    assert [(a["date"].date(), round(a["factor"], 6)) for a in actions] == [(dt.date(2024, 6, 10), 0.1)]
    adjusted = back_adjust(frame, actions)
    assert adjusted["close"].tolist() == pytest.approx([120.888, 121.79])


def test_a_batch_yfinance_reports_empty_after_a_failure_is_retried_not_believed():
    source = YFinanceStocksSource(10, dt.timedelta(minutes=60), lambda d: None, rate_limit_pause=60)
    source.session = SimpleNamespace(statuses=[200, 429])
    assert isinstance(source.problem([], "batch"), RateLimitedError)
    source.session = SimpleNamespace(statuses=[200])
    timeout = ["1 Failed download:", "['MSFT']: ReadTimeout('HTTPSConnectionPool: Read timed out.')"]
    assert isinstance(source.problem(timeout, "batch"), TransientSourceError)
    # A ticker Yahoo has nothing for is that ticker's empty answer, not the batch's failure.
    delisted = ["1 Failed download:", "['XYZ']: YFPricesMissingError('possibly delisted; no price data found')"]
    assert source.problem(delisted, "batch") is None


@pytest.mark.parametrize(("values", "says"), [
    ({"us_stocks_sources": "replay"}, "set US_STOCKS_REPLAY_DIR"),
    ({"us_stocks_sources": "yfinance,finviz"}, "unknown source 'finviz'"),
])
def test_a_wrong_stocks_source_setting_is_one_line_saying_what_to_fix(make_settings, values, says):
    from lib.errors import ConfigError

    with pytest.raises(ConfigError, match=says):
        make_settings(**values)


@pytest.fixture
def stub_chain(tmp_path):
    """The live source on Yahoo's offline stub (tests/yahoo_stub.py: the real yfinance parsing on answers built
    from data/sample/us), in a chain that does not pause."""
    from lib.spine.chain import SourceChain
    from tests.yahoo_stub import YahooStub

    stub = YahooStub()
    source = YFinanceStocksSource(10, dt.timedelta(minutes=60),
                                  lambda d: dt.datetime.combine(d, dt.time(20), tzinfo=dt.UTC), 0.0, http="requests",
                                  cache_dir=tmp_path / "yf", transport=stub)
    return stub, SourceChain([source], min_gap_seconds=0, max_attempts=2, backoff_seconds=0, sleep=lambda _s: None)


def stub_batch(chain):
    from lib.spine.chain import Delivery

    request = StocksRequest("batch 0001", (dt.date(2025, 7, 2), dt.date(2025, 7, 3)), tickers=("AAPL", "MSFT"))
    delivery: Delivery = chain.fetch(request, dt.datetime(2025, 7, 4, tzinfo=dt.UTC))
    return delivery.data


def test_through_yfinance_a_batch_is_one_download_with_every_ticker(stub_chain):
    stub, chain = stub_chain
    answer = stub_batch(chain)
    assert sorted(answer.bars) == ["AAPL", "MSFT"] and answer.rows == 4
    assert stub.calls[("AAPL", "chart")] == 1 and stub.calls[("MSFT", "chart")] == 1


@pytest.mark.parametrize("failure", [429, 500, "timeout"])
def test_through_yfinance_a_ticker_failing_inside_a_batch_fails_the_batch_not_silently(stub_chain, failure):
    from lib.spine.chain import DayUnavailable

    stub, chain = stub_chain
    stub.failures[("MSFT", "chart")] = failure
    with pytest.raises(DayUnavailable) as raised:
        stub_batch(chain)
    assert raised.value.sources_down  # the run stops and the next one asks again; no day is recorded empty
    assert chain.calls["yfinance"] == 2  # the batch asked again by the chain (max_attempts), then given up


def test_through_yfinance_a_ticker_without_data_is_absent_and_the_rest_delivered(stub_chain):
    stub, chain = stub_chain
    stub.failures[("MSFT", "chart")] = "no_data"
    answer = stub_batch(chain)
    assert sorted(answer.bars) == ["AAPL"] and answer.lacking == ["MSFT"]
