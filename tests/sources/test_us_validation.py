"""Validation of US answers: what is accepted, what becomes a rejected record and why."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from lib.errors import BadDataError, EmptyAnswerError
from lib.markets.us.sources import (
    BarsQuery,
    HoldingsQuery,
    ProfileQuery,
    validate_bars,
    validate_holdings,
    validate_profile,
)

D = dt.date
SESSIONS = (D(2025, 7, 2), D(2025, 7, 3), D(2025, 7, 7))  # 4 July is a holiday
QUERY = BarsQuery("XLF", SESSIONS)
GOOD = {"date": "2025-07-02", "open": "51.75", "high": "52.09", "low": "51.60", "close": "52.01", "volume": "41190400"}


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def reasons(validated) -> list[str]:
    return [r.reason for r in validated.rejected]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"close": None}, "close missing"),
        ({"close": "n/a"}, "close is not a number: 'n/a'"),
        ({"high": "51.00"}, "high 51.0 below low 51.6"),
        ({"volume": "-5"}, "negative volume: -5"),
        ({"low": "-1"}, "low is not positive: -1.0"),
        ({"close": "53.00"}, "close 53.0 outside the day's range 51.6..52.09"),
        ({"date": "2025-07-04"}, "2025-07-04 is not a New York Stock Exchange (XNYS) trading day"),
        ({"date": "July 2nd"}, "date is not YYYY-MM-DD: 'July 2nd'"),
    ],
)
def test_a_broken_row_is_rejected_with_its_raw_value_and_reason(change, reason):
    validated = validate_bars(frame({**GOOD, **change}), QUERY, "replay", set(SESSIONS))
    assert validated.rows == []
    [rejected] = validated.rejected
    assert rejected.reason == reason and rejected.ticker == "XLF" and rejected.source == "replay"
    assert rejected.raw == {**GOOD, **change}


def test_good_rows_are_typed_and_a_close_only_row_is_kept():
    close_only = {"date": "2025-07-03", "open": None, "high": None, "low": None, "close": "52.50", "volume": ""}
    validated = validate_bars(frame(GOOD, close_only), QUERY, "replay", set(SESSIONS))
    assert [r["date"] for r in validated.rows] == [D(2025, 7, 2), D(2025, 7, 3)]
    assert validated.rows[0]["close"] == 52.01 and validated.rows[0]["volume"] == 41190400
    assert validated.rows[1]["open"] is None and validated.rows[1]["volume"] is None
    assert validated.rejected == []


def test_rows_after_the_last_session_asked_for_are_dropped_not_stored():
    live = {**GOOD, "date": "2025-07-08"}
    validated = validate_bars(frame(GOOD, live), QUERY, "replay", set(SESSIONS))
    assert validated.after_end == 1 and len(validated.rows) == 1 and validated.rejected == []


def test_a_date_listed_twice_keeps_the_first():
    validated = validate_bars(frame(GOOD, {**GOOD, "close": "52.00"}), QUERY, "replay", set(SESSIONS))
    assert [r["close"] for r in validated.rows] == [52.01] and reasons(validated) == ["2025-07-02 listed twice"]


def test_a_foreign_listing_is_not_held_to_xnys_sessions():
    korean_day = {**GOOD, "date": "2025-07-04"}  # KRX traded on the US holiday
    validated = validate_bars(frame(korean_day), BarsQuery("005930.KS", SESSIONS), "replay", set(SESSIONS))
    assert len(validated.rows) == 1


def test_an_answer_without_rows_is_an_error_never_an_empty_day():
    with pytest.raises(EmptyAnswerError):
        validate_bars(frame(GOOD).iloc[0:0], QUERY, "replay", set(SESSIONS))


HOLDINGS = HoldingsQuery("XLF", D(2025, 7, 2))


def test_holdings_skip_cash_lines_and_reject_bad_weights():
    answer = pd.DataFrame({
        "ticker": ["BRK.B", "JPM", "-", "V", "bad ticker!"],
        "name": ["BERKSHIRE", "JPMORGAN", "US DOLLAR", "VISA", "X"],
        "holding_percent": ["12.56", "11.18", "0.01", "150", "1"],
    })
    validated = validate_holdings(answer, HOLDINGS, "replay")
    assert [r["ticker"] for r in validated.rows] == ["BRK-B", "JPM"]  # Yahoo's form of the share class
    assert reasons(validated) == ["holding_percent 150.0 is not between 0 and 100", "malformed ticker 'BAD TICKER!'"]


def test_holdings_adding_up_to_more_than_the_fund_are_refused_whole():
    answer = pd.DataFrame({"ticker": ["A", "B"], "name": ["a", "b"], "holding_percent": [60, 50]})
    with pytest.raises(BadDataError, match="add up to 110.0%"):
        validate_holdings(answer, HOLDINGS, "replay")


def test_a_profile_keeps_what_is_usable_and_rejects_the_rest():
    validated = validate_profile(
        {"name": "Apple Inc.", "sector": "", "shares_outstanding": "-3", "market_cap": "3.7e12", "currency": "usd"},
        ProfileQuery("AAPL", D(2025, 7, 2)), "replay",
    )
    [profile] = validated.rows
    assert profile == {"name": "Apple Inc.", "sector": None, "currency": "USD", "quote_type": None,
                       "shares_outstanding": None, "market_cap": 3.7e12}
    assert reasons(validated) == ["shares_outstanding is not positive: -3.0"]


def test_a_ticker_listed_twice_in_meta_csv_is_refused_naming_its_lines(tmp_path):
    import shutil

    from lib.errors import BadDataError
    from lib.markets.us.replay import UsReplaySource
    from tests.conftest import US_SAMPLE

    root = tmp_path / "us"
    shutil.copytree(US_SAMPLE, root)
    meta = root / "us_stocks" / "meta.csv"
    lines = meta.read_text().splitlines()
    meta.write_text("\n".join([*lines, lines[1].replace("14697925622", "1")]) + "\n")  # AAPL again, last line
    source = UsReplaySource(root)
    with pytest.raises(BadDataError, match=rf"replay AAPL: listed 2 times in us_stocks/meta.csv \(lines 2, "
                                           rf"{len(lines) + 1}\): keep one line per ticker"):
        source.fetch_raw(ProfileQuery("AAPL", D(2025, 7, 2)))
    abbv = source.normalise(source.fetch_raw(ProfileQuery("ABBV", D(2025, 7, 2))), ProfileQuery("ABBV", D(2025, 7, 2)))
    assert abbv["name"] == "AbbVie" and abbv["shares_outstanding"] == "1767384615"
