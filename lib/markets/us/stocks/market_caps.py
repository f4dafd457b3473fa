"""Market caps in bulk: Yahoo's equity screener, paged, every US equity at or above the floor in a few requests.

yfinance 1.7.0 (screener/screener.py, read): `yf.screen(EquityQuery(...), offset, size, sortField, sortAsc)` POSTs
the query to query1.finance.yahoo.com/v1/finance/screener and returns `response.json()["finance"]["result"][0]`;
`size` above 250 raises ValueError ("Yahoo limits query size to 250"). That result carries `start`, `count`,
`total` (how many match the whole query) and `quotes`, Yahoo's quote objects: `symbol` (Yahoo form, BRK-B),
`quoteType` ("EQUITY"), `exchange` (NMS, NYQ, ...), `currency`, `marketCap`, `sharesOutstanding`, `longName`,
`shortName` (the same fields as the v7 quote answer; any may be missing). They carry no sector or industry:
those come from `.info`, a few per refresh (universe_profiles.py).

The query: region us, intradaymarketcap >= US_MIN_MARKET_CAP, on the region's exchanges except the OTC tiers
(yfinance's const.EQUITY_SCREENER_EQ_MAP["exchange"]["us"] minus OEM, OQB, OQX, PNK: OTC quotes are not listed
common stocks and only lengthen the answer), sorted by ticker ascending so that pages do not reshuffle while
prices move."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.errors import BadDataError, EmptyAnswerError
from lib.log import get_logger

log = get_logger("us_universe")
PAGE_SIZE = 250  # Yahoo's largest page (yfinance refuses more)
# Yahoo stops paging a screen at offset 10,000 (yfinance issue #2239): an answer that long is incomplete.
MAX_OFFSET = 10_000
LISTED_EXCHANGES = ("ASE", "BTS", "CXI", "NAE", "NCM", "NGM", "NMS", "NYQ", "PCX", "YHD")
# A plain-data EquityQuery: (operator, operands), nested; yfinance's EquityQuery is built from it where it is loaded.
Query = tuple[str, list[Any]]


def screener_query(floor: float) -> Query:
    """US equities on a listed exchange with an intraday market cap at or above `floor` (USD)."""
    return ("and", [("eq", ["region", "us"]), ("is-in", ["exchange", *LISTED_EXCHANGES]),
                    ("gte", ["intradaymarketcap", floor])])


@dataclass
class MarketCaps:
    """The screener's answer: per Yahoo ticker {market_cap (USD), shares_outstanding, name}; whether it is
    complete (every page read, as many quotes as Yahoo's total, the total steady); the quotes left out, with why;
    the requests made."""

    found: dict[str, dict[str, Any]] = field(default_factory=dict)
    complete: bool = True
    left_out: dict[str, str] = field(default_factory=dict)
    total: int | None = None
    pages: int = 0

    def reasons(self) -> Counter[str]:
        """How many quotes were left out, per reason."""
        return Counter(self.left_out.values())


def positive_number(value: Any) -> float | None:
    """A positive finite float, or None (a missing, non-numeric, zero or negative field)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _text(value: Any) -> str | None:
    return (str(value).strip() or None) if value is not None else None


def normalise_quote(quote: Any) -> tuple[str | None, dict[str, Any] | str]:
    """A screener quote as (ticker, {market_cap, shares_outstanding, name}), or (ticker or None, why it is left
    out): not an equity, no market cap, a market cap in another currency than USD."""
    if not isinstance(quote, Mapping) or not _text(quote.get("symbol")):
        return None, "no symbol"
    ticker = str(quote["symbol"]).strip().upper()
    kind = _text(quote.get("quoteType"))
    if kind is not None and kind.upper() != "EQUITY":
        return ticker, f"not an equity ({kind})"
    cap = positive_number(quote.get("marketCap"))
    if cap is None:
        return ticker, "no market cap"
    currency = (_text(quote.get("currency")) or "USD").upper()
    if currency != "USD":
        return ticker, f"market cap in {currency}, not USD"
    return ticker, {"market_cap": cap, "shares_outstanding": positive_number(quote.get("sharesOutstanding")),
                    "name": _text(quote.get("longName")) or _text(quote.get("shortName"))}


def _page_parts(result: Any, offset: int) -> tuple[list[Any], int]:
    if not isinstance(result, Mapping) or not isinstance(result.get("quotes"), list):
        got = sorted(result) if isinstance(result, Mapping) else type(result).__name__
        raise BadDataError(f"Yahoo screener page at offset {offset}: no quotes list in the answer (got {got})")
    total = result.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise BadDataError(f"Yahoo screener page at offset {offset}: no total in the answer ({total!r})")
    return result["quotes"], total


def read_pages(fetch_page: Callable[[int], Any]) -> MarketCaps:
    """Every page of one screen, `fetch_page(offset)` returning yfinance's result dict for the page starting
    there. A page that fails raises (the caller writes nothing); an answer whose total changed
    between pages, that ran out of quotes before its total, or that stops at Yahoo's 10,000 offset is marked
    incomplete."""
    out = MarketCaps(complete=False)
    offset, seen, steady = 0, 0, True
    while True:
        quotes, total = _page_parts(fetch_page(offset), offset)
        out.pages += 1
        if out.total is None:
            if total == 0:  # thousands of US stocks clear a floor of a few billion: none is a broken answer
                raise EmptyAnswerError("Yahoo screener: no US equity at or above the floor; the universe is left as "
                                       "it was")
            out.total = total
        elif total != out.total:
            steady = False
        for quote in quotes:
            ticker, found = normalise_quote(quote)
            seen += 1
            if ticker is None:
                continue
            if isinstance(found, dict):
                out.found[ticker] = found
                out.left_out.pop(ticker, None)
            elif ticker not in out.found:
                out.left_out[ticker] = found
        offset += len(quotes)
        # The next page starts after what came back, so a page shorter than asked (Yahoo serving fewer) costs a
        # request more, never a stock; an empty page before the total ends the answer short.
        if not quotes or offset >= out.total or offset >= MAX_OFFSET:
            break
    out.complete = steady and seen >= out.total and offset >= out.total
    if not out.complete:
        log.warning("Yahoo screener answer incomplete: %d quotes read of %s (total %s): a listed stock absent "
                    "from it keeps its state", seen, out.total, "steady" if steady else "changing between pages")
    return out
