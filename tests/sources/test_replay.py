"""The replay source knows its range and reads parquet or CSV panels."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from lib.errors import BadDataError, ConfigError, EmptyAnswerError, OutsideRangeError
from lib.markets.krx.replay import ReplaySource
from lib.markets.krx.source_base import Query
from tests.conftest import PANEL


def test_days_before_the_file_are_outside_its_range_and_after_it_never_published():
    replay = ReplaySource(PANEL)
    assert replay.first_day() == dt.date(2023, 12, 5)
    with pytest.raises(OutsideRangeError):
        replay.fetch_raw(Query(dt.date(2023, 12, 4), "KOSPI"))
    assert replay.available_at(dt.date(2025, 6, 17)) is None
    with pytest.raises(EmptyAnswerError):
        replay.fetch_raw(Query(dt.date(2024, 9, 16), "KOSPI"))  # a holiday inside the range


def test_a_csv_panel_keeps_tickers_as_text(tmp_path):
    panel = pd.read_parquet(PANEL)
    csv = tmp_path / "history.csv"
    panel.to_csv(csv, index=False)
    replay = ReplaySource(csv)
    query = Query(dt.date(2024, 9, 2), "KOSPI")
    frame = replay.normalise(replay.fetch_raw(query), query)
    assert "005930" in set(frame["ticker"]) and "00088K" in set(frame["ticker"])


def test_a_file_missing_columns_says_which(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,ticker,close\n2024-01-02,005930,100\n")
    with pytest.raises(ConfigError, match=r"lacks columns \['open'"):
        ReplaySource(bad)


def test_a_base_price_column_is_served_and_a_file_without_one_is_taken_as_adjusted(tmp_path):
    panel = pd.read_parquet(PANEL)
    query = Query(dt.date(2024, 9, 2), "KOSPI")
    plain = ReplaySource(PANEL)
    assert plain.normalise(plain.fetch_raw(query), query)["base_price"].isna().all()
    with_base = tmp_path / "with_base.csv"
    panel.assign(base_price=panel["close"] - 100).to_csv(with_base, index=False)
    replay = ReplaySource(with_base)
    frame = replay.normalise(replay.fetch_raw(query), query).set_index("ticker")
    assert frame.loc["005930", "base_price"] == 74_400 - 100


def test_a_date_in_another_format_is_one_line_naming_the_file_line_and_the_format_and_exit_2(
    tmp_path, make_settings, capsys
):
    import manual_setup

    panel = pd.read_parquet(PANEL)
    panel.loc[5, "date"] = "2025/05/16"
    csv = tmp_path / "history.csv"
    panel.to_csv(csv, index=False)
    assert csv.read_text().splitlines()[6].startswith("2025/05/16,")  # line 7 of the file, the header is line 1
    with pytest.raises(ConfigError) as raised:
        ReplaySource(csv)
    assert str(raised.value) == (
        "KRX_REPLAY_PATH: history.csv line 7: date '2025/05/16' is not a date in the form YYYY-MM-DD "
        "(e.g. 2025-05-16); correct the file"
    )
    capsys.readouterr()
    assert manual_setup.main(["--today", "2024-08-30"], settings=make_settings(krx_replay_path=csv)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert all(line.split()[1] == "manual_setup" for line in err)  # log lines only, no traceback
    [error] = [line for line in err if line.split()[2] == "ERROR"]
    assert "history.csv line 7: date '2025/05/16' is not a date in the form YYYY-MM-DD" in error


@pytest.mark.parametrize(("value", "shown"), [
    ("", "the date is blank: fill it in as YYYY-MM-DD (e.g. 2025-05-16) or delete the row"),
    ("2024-02-30", "date '2024-02-30' is not a date in the form YYYY-MM-DD"),
    ("20240102", "date '20240102' is not a date in the form YYYY-MM-DD"),
])
def test_an_empty_or_impossible_date_is_named_by_its_line_too(tmp_path, value, shown):
    csv = tmp_path / "h.csv"
    csv.write_text("date,ticker,open,high,low,close,volume,market_cap,market,name\n"
                   "2024-01-02,005930,1,1,1,1,1,1,KOSPI,A\n"
                   f"{value},005930,1,1,1,1,1,1,KOSPI,A\n")
    with pytest.raises(ConfigError) as raised:
        ReplaySource(csv)
    assert str(raised.value).startswith(f"KRX_REPLAY_PATH: h.csv line 3: {shown}")
    assert "no date is not a date" not in str(raised.value)


def test_a_ticker_listed_twice_on_a_day_names_both_lines_of_the_file(tmp_path):
    csv = tmp_path / "h.csv"
    csv.write_text("date,ticker,open,high,low,close,volume,market_cap,market,name\n"
                   "2024-01-02,005930,1,1,1,1,1,1,KOSPI,A\n"
                   "2024-01-02,000660,1,1,1,1,1,1,KOSPI,B\n"
                   "2024-01-02,005930,1,1,1,2,1,1,KOSPI,A\n")
    source = ReplaySource(csv)
    query = Query(dt.date(2024, 1, 2), "KOSPI")
    with pytest.raises(BadDataError) as raised:
        source.validate(source.normalise(source.fetch_raw(query), query), query)
    assert str(raised.value) == "replay KOSPI 2024-01-02: tickers listed twice: 005930 (h.csv line 2 and 4)"
