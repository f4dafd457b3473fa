"""NASDAQ Trader's symbol files parsed into common stocks, on real rows: the trimmed copies of the 2025-07-21 files
in data/sample/us_stocks (see its README). Each filter rule is checked on a real row that it alone catches."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from lib.errors import BadDataError
from lib.markets.us.stocks.symbols import (
    NASDAQ_COLUMNS,
    OTHER_COLUMNS,
    creation_time,
    nasdaq_reason,
    other_reason,
    parse_nasdaq_listed,
    parse_symbol_files,
    yahoo_ticker,
)

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample" / "us_stocks"
NASDAQ = (SAMPLE / "nasdaqlisted.txt").read_text(encoding="utf-8")
OTHER = (SAMPLE / "otherlisted.txt").read_text(encoding="utf-8")
SAMPLE_TICKERS = {line.split(",")[0] for line in (SAMPLE / "profiles.csv").read_text().splitlines()[1:]}


def _rows(text: str, columns: tuple[str, ...]) -> dict[str, dict[str, str]]:
    lines = text.splitlines()[1:-1]
    return {line.split("|")[0]: dict(zip(columns, line.split("|"), strict=True)) for line in lines}


NASDAQ_ROWS = _rows(NASDAQ, NASDAQ_COLUMNS)
OTHER_ROWS = _rows(OTHER, OTHER_COLUMNS)


@pytest.mark.parametrize(("symbol", "reason"), [
    ("ZAZZT", "test_issue"),  # Tick Pilot Test Stock, Test Issue=Y
    ("QQQ", "etf"),
    ("AEVAW", "warrant"),  # fifth letter W
    ("CCCXU", "unit"),  # fifth letter U
    ("ATMCR", "right"),  # fifth letter R
    ("CORZZ", "warrant"),  # "Tranche 2 Warrants": fifth letter Z, caught by the name
    ("ACGLN", "preferred"),  # "Depositary Shares ... Non-Cumulative Preferred Share"
    ("ABLLL", "note"),  # "Senior Notes due 2028"
    ("AAPL", None), ("PFBC", None),  # "Preferred Bank - Common Stock" is a common stock
    ("ABVX", None),  # American Depositary Shares of a common stock stay
])
def test_each_nasdaq_rule_on_a_real_row(symbol, reason):
    assert nasdaq_reason(NASDAQ_ROWS[symbol]) == reason


@pytest.mark.parametrize(("symbol", "reason"), [
    ("CTEST.E", "test_issue"), ("MTEST", "test_issue"), ("ZEXIT", "test_issue"),
    ("SPY", "etf"),
    ("ABR$D", "preferred"),  # "$" in the ACT symbol
    ("GROY.W", "warrant"), ("PSFE.W", "warrant"), ("EVAC.U", "unit"), ("CELG.R", "right"), ("JACS.R", "right"),
    ("PBR.A", "preferred"),  # a share-class suffix, but "American Depositary Shares representing Preferred Shares"
    ("EAI", "note"),  # "First Mortgage Bonds, 4.875% Series Due September 1, 2066"
    ("BEPJ", "note"),  # "Perpetual Subordinated Notes"
    ("ATMP", "note"),  # "iPath Select MLP ETN", flagged ETF=N
    ("BRK.B", None), ("BRK.A", None), ("ET", None), ("AB", None),  # share classes, LP units stay
    ("CBOE", None), ("UAVS", None),  # exchanges Z and A
])
def test_each_otherlisted_rule_on_a_real_row(symbol, reason):
    assert other_reason(OTHER_ROWS[symbol]) == reason


def test_a_nextshares_row_is_dropped():
    # Shaped by hand: no NextShares fund has been listed since 2020, so no real file of 2025 holds one.
    row = dict(NASDAQ_ROWS["AAPL"], Symbol="EVSTC", **{"Security Name": "Eaton Vance Stock NextShares",
                                                         "NextShares": "Y"})
    assert nasdaq_reason(row) == "nextshares"


def test_the_sample_files_list_every_sample_stock_and_count_what_was_dropped():
    directory = parse_symbol_files(NASDAQ, OTHER)
    tickers = {listing.ticker for listing in directory.listings}
    assert SAMPLE_TICKERS <= tickers
    assert {"BRK-A", "PFBC", "ET", "AB", "ABVX", "CBOE", "UAVS", "ABP"} <= tickers
    assert directory.dropped == {"test_issue": 4, "etf": 2, "warrant": 4, "unit": 2, "right": 3, "preferred": 3,
                                 "note": 4}
    assert directory.created == dt.datetime(2025, 7, 21, 21, 31)
    by_ticker = {listing.ticker: listing for listing in directory.listings}
    assert by_ticker["ABP"].financial_status == "D"  # deficient: kept, marked
    assert by_ticker["AAPL"].financial_status is None
    assert (by_ticker["BRK-B"].symbol, by_ticker["BRK-B"].exchange) == ("BRK.B", "N")
    assert (by_ticker["AAPL"].name, by_ticker["AAPL"].exchange) == ("Apple Inc.", "Q")
    assert "1 kept marked non-compliant" in directory.summary()


@pytest.mark.parametrize(("symbol", "ticker"), [("BRK.B", "BRK-B"), ("BF.A", "BF-A"), ("brk/b", "BRK-B"),
                                                ("GOOGL", "GOOGL")])
def test_symbols_take_yahoos_form(symbol, ticker):
    assert yahoo_ticker(symbol) == ticker


def test_a_file_cut_short_is_refused_with_its_name():
    cut = "\n".join(NASDAQ.splitlines()[:-1])
    with pytest.raises(BadDataError, match=r"nasdaqlisted\.txt: no 'File Creation Time'"):
        parse_nasdaq_listed(cut)
    with pytest.raises(BadDataError, match=r"otherlisted\.txt"):
        parse_symbol_files(NASDAQ, "\n".join(OTHER.splitlines()[:30]))


def test_a_file_of_another_shape_is_refused():
    with pytest.raises(BadDataError, match=re.escape("expected 'Symbol|Security Name|")):
        parse_nasdaq_listed(OTHER)
    assert creation_time(OTHER, "otherlisted.txt") == dt.datetime(2025, 7, 21, 21, 31)


def test_a_row_of_the_wrong_width_is_skipped_and_counted():
    lines = NASDAQ.splitlines()
    assert lines[1].startswith("AAPL|")
    directory = parse_nasdaq_listed("\n".join([lines[0], lines[1] + "|extra", *lines[2:]]))
    assert directory.dropped["malformed"] == 1
    tickers = [listing.ticker for listing in directory.listings]
    assert "AAPL" not in tickers and len(tickers) == len(parse_nasdaq_listed(NASDAQ).listings) - 1
