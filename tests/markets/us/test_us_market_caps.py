"""The US universe's market caps from Yahoo's screener: the quote normaliser, paging and completeness, the live
source's pacing and the replay folder's recorded answer, without network.

The quote shape: yfinance 1.7.0's `screen` returns `response.json()["finance"]["result"][0]` (screener.py), a dict
with start, count, total and quotes; a quote is Yahoo's quote object (symbol, quoteType, exchange, currency,
marketCap, sharesOutstanding, longName, shortName, ...), as public clients of that endpoint model it (e.g. the Rust
crate finance-query's ScreenerQuote, docs.rs). AAPL's figures below are Yahoo's quote answer of 2023-10-06 as
recorded in a public test (marketCap 2,774,914,039,808, sharesOutstanding 15,634,199,552), unformatted the way
yfinance asks (formatted=false)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lib.errors import BadDataError, EmptyAnswerError, RateLimitedError
from lib.markets.us.stocks.market_caps import MarketCaps, normalise_quote, read_pages, screener_query
from lib.markets.us.stocks.universe_sources import LiveUniverseSource, ReplayUniverseSource

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample" / "us_stocks"
AAPL = {"language": "en-US", "region": "US", "quoteType": "EQUITY", "typeDisp": "Equity",
        "quoteSourceName": "Delayed Quote", "currency": "USD", "exchange": "NMS", "fullExchangeName": "NasdaqGS",
        "market": "us_market", "symbol": "AAPL", "shortName": "Apple Inc.", "longName": "Apple Inc.",
        "marketCap": 2774914039808, "sharesOutstanding": 15634199552, "regularMarketPrice": 177.49}


def test_a_screener_quote_becomes_a_market_cap_in_usd():
    assert normalise_quote(AAPL) == ("AAPL", {"market_cap": 2774914039808.0, "shares_outstanding": 15634199552.0,
                                              "name": "Apple Inc."})
    brk = {"symbol": "brk-b ", "quoteType": "EQUITY", "currency": "USD", "marketCap": 1.0e12, "shortName": "Berkshire"}
    assert normalise_quote(brk) == ("BRK-B", {"market_cap": 1.0e12, "shares_outstanding": None, "name": "Berkshire"})
    assert normalise_quote({**AAPL, "quoteType": "ETF"}) == ("AAPL", "not an equity (ETF)")
    assert normalise_quote({**AAPL, "marketCap": None}) == ("AAPL", "no market cap")
    assert normalise_quote({**AAPL, "marketCap": "NaN"}) == ("AAPL", "no market cap")
    assert normalise_quote({**AAPL, "currency": "eur"}) == ("AAPL", "market cap in EUR, not USD")
    assert normalise_quote({"quoteType": "EQUITY"}) == (None, "no symbol")


def page(total: int, symbols: list[str], cap: float = 3e9) -> dict[str, Any]:
    return {"start": 0, "count": len(symbols), "total": total,
            "quotes": [{**AAPL, "symbol": s, "marketCap": cap, "longName": f"{s} Inc."} for s in symbols]}


def pages_of(answers: dict[int, Any]):
    asked: list[int] = []

    def fetch(offset: int) -> Any:
        asked.append(offset)
        answer = answers[offset]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return fetch, asked


def test_every_page_is_read_and_a_whole_answer_is_complete():
    fetch, asked = pages_of({0: page(5, ["A", "B"]), 2: page(5, ["C", "D"]), 4: page(5, ["E"])})
    caps = read_pages(fetch)
    assert asked == [0, 2, 4] and caps.pages == 3 and caps.total == 5
    assert caps.complete and sorted(caps.found) == ["A", "B", "C", "D", "E"]
    # Yahoo serving fewer than asked: the next page starts after what came back, and nothing is missed
    fetch, asked = pages_of({0: page(3, ["A"]), 1: page(3, ["B", "C"])})
    caps = read_pages(fetch)
    assert asked == [0, 1] and caps.complete and sorted(caps.found) == ["A", "B", "C"]


@pytest.mark.parametrize(("answers", "why"), [
    ({0: page(5, ["A", "B"]), 2: page(6, ["C", "D"]), 4: page(6, ["E", "F"])}, "the total changed between pages"),
    ({0: page(5, ["A", "B"]), 2: page(5, ["C"]), 3: page(5, [])}, "the quotes ran out before the total"),
])
def test_an_answer_that_does_not_add_up_is_incomplete(answers, why):
    caps = read_pages(pages_of(answers)[0])
    assert not caps.complete, why


def test_a_failed_or_unusable_page_raises_and_an_empty_answer_is_not_believed():
    busy = RateLimitedError("Yahoo screener offset 2: HTTP 429", pause=60.0)
    with pytest.raises(RateLimitedError):
        read_pages(pages_of({0: page(5, ["A", "B"]), 2: busy})[0])
    with pytest.raises(BadDataError, match="offset 0: no quotes list"):
        read_pages(pages_of({0: {"total": 5, "records": []}})[0])
    with pytest.raises(EmptyAnswerError, match="no US equity at or above the floor"):
        read_pages(pages_of({0: page(0, [])})[0])


class ScreeningYahoo:
    """yfinance's screen pages by offset, recording each call's query and arguments."""

    def __init__(self, answers: dict[int, Any]) -> None:
        self.answers, self.calls = answers, []

    def screen(self, query, where: str, **kwargs: Any) -> Any:
        self.calls.append((query, kwargs))
        return self.answers[kwargs["offset"]]


def test_the_live_screener_asks_page_after_page_paced_for_listed_us_equities_over_the_floor():
    sleeps: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    first = page(251, [f"T{n:03d}" for n in range(250)])
    yahoo = ScreeningYahoo({0: first, 250: page(251, ["ZZZ"])})
    source = LiveUniverseSource(5.0, 5.0, yahoo, sleep=sleep, clock=lambda: now[0])
    caps = source.market_caps(2e9)
    assert caps.complete and len(caps.found) == 251 and caps.pages == 2
    assert sleeps == [5.0]  # the gap before the second request, none before the first
    query, kwargs = yahoo.calls[1]
    assert kwargs == {"offset": 250, "size": 250, "sort_field": "ticker", "ascending": True}
    assert query == screener_query(2e9) and ("gte", ["intradaymarketcap", 2e9]) in query[1]
    assert ("eq", ["region", "us"]) in query[1] and "PNK" not in query[1][1][1]  # no OTC quotes


def test_the_replay_folder_answers_the_screener_from_profiles_csv_at_the_floor():
    replay = ReplayUniverseSource(SAMPLE)
    everyone = replay.market_caps(2e9)
    assert isinstance(everyone, MarketCaps) and everyone.complete and len(everyone.found) == 64
    assert everyone.found["BRK-B"]["name"] == "Berkshire Hathaway"
    giants = replay.market_caps(1e12)  # only the trillion-dollar companies clear this floor
    assert {"AAPL", "MSFT", "NVDA"} <= set(giants.found) and "AEP" not in giants.found


def test_yfinance_screen_runs_offline_through_the_stub_page_by_page(tmp_path):
    import datetime as dt

    from lib.errors import TransientSourceError
    from lib.markets.us.yfinance_source import YFinanceSource
    from tests.yahoo_stub import YahooStub

    stub = YahooStub()
    yahoo = YFinanceSource(10, dt.timedelta(0), lambda day: None, 0.0, http="requests", cache_dir=tmp_path / "yf",
                           transport=stub)
    source = LiveUniverseSource(5.0, 0.0, yahoo)
    caps = source.market_caps(1e11)  # meta.csv's stocks of 100 billion USD and more: yfinance's own code runs
    assert caps.complete and caps.pages == 1 and stub.calls[("screener", 0)] == 1
    assert {"AAPL", "BRK-B", "JPM"} <= set(caps.found) and "AEP" not in caps.found
    assert caps.found["AAPL"] == {"market_cap": 3759435415552.0, "shares_outstanding": 14697925622.0,
                                  "name": "Apple Inc."}
    stub.failures[("screener", "page")] = 500
    with pytest.raises(TransientSourceError, match="Yahoo screener offset 0: HTTP 500"):
        source.market_caps(1e11)
