"""Corporate actions from KRX's base prices, and the analysis on the back-adjusted series.

The proof on real data: 005930 around its 50:1 split of 2018-05-04. KRX's recorded answers hold its
unadjusted bars of 2018-04-27..05-04 (with CMPPREVDD_PRC); the other days are Naver's adjusted series
(recorded by pykrx's tests), which for the days before 04-27 is turned back into unadjusted prices (x50) and
from 05-04 on is the unadjusted price itself. Fed unadjusted with base prices through the write path, the
stored analysis must equal TA-Lib on the adjusted series to 1e-9, across the split."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
import talib
import yaml

from lib.analysis.corporate_actions import back_adjust, derive_actions
from lib.analysis.job import analyse_ticker
from lib.markets.krx.bars import bars_by_ticker
from lib.markets.krx.outblock import base_price
from lib.markets.krx.quarantine import screen_days
from lib.markets.krx.source_base import COLUMNS, Query, number, validate_market_day
from lib.spine.calendar import TradingCalendar
from lib.spine.quarantine import prior_closes
from lib.spine.records import MarketDay
from lib.storage.dates import to_utc_midnight
from tests.conftest import FIXTURES
from tests.test_indicators import expected

D = dt.date
SPLIT = D(2018, 5, 4)
SHARES_BEFORE, SHARES_AFTER = 128_386_494, 6_419_324_700
NAVER = FIXTURES / "005930_naver_adjusted_2016-05_2019-06.csv"
KRX_DAYS = FIXTURES / "pykrx_cassettes" / "TestStockOhlcvByDateTest.test_ohlcv_with_not_adjusted.yaml"


def krx_rows() -> dict[dt.date, dict]:
    cassette = yaml.safe_load(KRX_DAYS.read_text())
    rows = json.loads(cassette["interactions"][0]["response"]["body"]["string"])["output"]
    return {dt.datetime.strptime(r["TRD_DD"], "%Y/%m/%d").date(): r for r in rows}


def unadjusted_005930(with_base: bool = True, start: str = "2016-05-02", end: str = "2019-06-28") -> pd.DataFrame:
    """005930's unadjusted daily bars with KRX's base price of each day (see the module)."""
    krx = krx_rows()
    records, previous = [], None
    naver = pd.read_csv(NAVER)
    for row in naver.loc[naver["date"].between(start, end)].itertuples():
        day = D.fromisoformat(row.date)
        if day in krx:
            k = krx[day]
            prices = [number(k[f]) for f in ("TDD_OPNPRC", "TDD_HGPRC", "TDD_LWPRC", "TDD_CLSPRC", "ACC_TRDVOL")]
            base, shares = base_price(k), number(k["LIST_SHRS"])
        else:
            scale = 50 if day < SPLIT else 1  # Naver's volumes are not adjusted
            prices = [row.open * scale, row.high * scale, row.low * scale, row.close * scale, row.volume]
            base, shares = previous, SHARES_BEFORE if day < SPLIT else SHARES_AFTER
        records.append({"date": day, "open": prices[0], "high": prices[1], "low": prices[2], "close": prices[3],
                        "volume": prices[4], "shares": shares, "base_price": base if with_base else np.nan})
        previous = prices[3]
    return pd.DataFrame(records)


def market_days(bars: pd.DataFrame) -> list[tuple[dt.date, list[MarketDay]]]:
    """Each bar as a validated one-stock KOSPI answer, as the sources deliver a day. (The days are validated in
    one call, each row under a stand-in code so that no ticker is listed twice, then split by day.)"""
    frame = bars.assign(ticker=[f"{i:06d}" for i in range(len(bars))], name="삼성전자", market="KOSPI",
                        value=np.nan, market_cap=np.nan).loc[:, list(COLUMNS)]
    query = Query(bars["date"].iloc[-1], "KOSPI")
    valid = validate_market_day(frame, query, "krx_recorded").frame.assign(ticker="005930")
    days = []
    for i, day in enumerate(bars["date"]):
        days.append((day, [MarketDay(valid.iloc[[i]].reset_index(drop=True), "krx_recorded", "KOSPI", day)]))
    return days


def store(storage, days) -> None:
    """The collection's write path: screen against the stored history, then store."""
    tickers = ["005930"]
    prior = prior_closes(
        storage.bars.last_closes_before(tickers, days[0][0]), storage.bad_data.last_quarantined_before(days[0][0])
    )
    screened = screen_days(days, prior)
    assert screened.refused == [] and screened.quarantined == []
    storage.bars.upsert_bars(bars_by_ticker(screened.kept))


def reference(bars: pd.DataFrame) -> pd.DataFrame:
    """The adjusted series by hand: prices before the split x 1/50, volumes x 50."""
    ref = bars.assign(ticker="005930", date=pd.to_datetime(bars["date"]))
    before = ref["date"] < pd.Timestamp(SPLIT)
    for column in ("open", "high", "low", "close"):
        ref[column] = ref[column].where(~before, ref[column] * 0.02)
    ref["volume"] = ref["volume"].where(~before, ref["volume"] / 0.02)
    return ref


def test_the_split_of_005930_stored_unadjusted_gives_the_talib_indicators_of_the_adjusted_series(storage):
    bars = unadjusted_005930(start="2017-03-02", end="2018-12-28")  # 287 sessions before the split, 160 from it
    days = market_days(bars)
    calendar = TradingCalendar(exchange="XKRX", settings_prefix="KRX")
    sessions = calendar.sessions_between(calendar.first, D(2018, 12, 28))
    split_at = next(i for i, (d, _) in enumerate(days) if d == SPLIT)

    # Up to the halt before the split: the history is analysed as it is.
    store(storage, days[:split_at])
    analyse_ticker(storage, "005930", D(2018, 5, 3), sessions=sessions)
    assert storage.corporate_actions.corporate_actions("005930") == []
    assert storage.analysis.read_analysis("005930")[-1]["close"] == 2_650_000

    # The split day and after: the event is found from the stored base price and the whole history is redone.
    store(storage, days[split_at:])
    assert storage.bars.read_bars("005930", SPLIT, SPLIT)[0]["close"] == 51_900  # stock_data stays as delivered
    analyse_ticker(storage, "005930", D(2018, 12, 28), sessions=sessions)
    assert storage.corporate_actions.corporate_actions("005930") == [{
        "ticker": "005930", "date": to_utc_midnight(SPLIT), "factor": 0.02, "kind": "split", "base_price": 53_000,
        "previous_close": 2_650_000, "previous_date": to_utc_midnight(D(2018, 5, 3)),
        "shares_before": SHARES_BEFORE, "shares_after": SHARES_AFTER,
    }]
    stored = pd.DataFrame(storage.analysis.read_analysis("005930"))
    ref = reference(bars)
    want = expected(ref, "005930")
    c = ref.loc[ref["open"] > 0, "close"].to_numpy(dtype=float)
    want |= {"close_high_52w": talib.MAX(c, 252), "close_low_52w": talib.MIN(c, 252)}
    traded = ref.loc[ref["open"] > 0]
    assert len(stored) == len(traded) == 444  # the three halted days have no row
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(stored[column], traded[column], rtol=1e-12, err_msg=column)
    split_row = int(np.flatnonzero(stored["date"] == pd.Timestamp(SPLIT))[0])
    assert split_row > 260  # the 252-session windows reach across the split
    for column, values in want.items():
        defined = ~np.isnan(values)
        np.testing.assert_allclose(stored[column].to_numpy()[defined], values[defined], rtol=1e-9, atol=0,
                                   err_msg=column)
        assert not np.isnan(values[split_row]), column


def test_the_adjusted_series_is_navers_but_for_one_won_naver_truncated():
    ref = reference(unadjusted_005930()).set_index("date")
    naver = pd.read_csv(NAVER, parse_dates=["date"]).set_index("date")
    diff = (ref[["open", "high", "low", "close"]] - naver[["open", "high", "low", "close"]]).abs()
    assert diff.stack().gt(1e-6).sum() == 1
    assert diff.loc["2018-04-27", "high"] == pytest.approx(1)  # KRX 2,682,000 / 50 = 53,640; Naver says 53,639
    before = naver.index < pd.Timestamp(SPLIT)
    assert (ref.loc[before, "volume"] == naver.loc[before, "volume"] * 50).all()  # Naver leaves volumes as traded


def test_an_unadjusted_file_without_base_prices_quarantines_the_split_day_and_stores_from_the_next():
    bars = unadjusted_005930(with_base=False)
    screened = screen_days(market_days(bars), {})
    # a one-stock answer is judged row by row, as a level shift in a whole market's answer is: the split day is
    # quarantined with its reason, the next day (within the limit of the quarantined close) confirms the level
    assert screened.refused == []
    (held,) = screened.quarantined
    assert held.day == SPLIT and "-98.0% from the previous close 2,650,000" in held.reason
    assert len(screened.confirmed) == 1 and "a level shift without a base price" in screened.confirmed[0]
    stored = [d for d, answers in screened.kept if answers and not answers[0].frame.empty]
    assert stored == [d for d in bars["date"] if d != SPLIT]


# --- each kind, hand-checkable -----------------------------------------------------------------------


def test_a_split_is_told_by_the_listed_shares_growing_by_the_inverse_of_the_factor():
    bars = unadjusted_005930()
    bars["date"] = pd.to_datetime(bars["date"])
    (split,) = derive_actions("005930", bars)
    assert split["factor"] == pytest.approx(1 / 50) and split["kind"] == "split"
    assert derive_actions("005930", bars.drop(columns=["shares"]))[0]["kind"] is None  # shares unknown: no guess


def test_halted_days_carry_the_last_close_and_make_no_action():
    bars = unadjusted_005930()
    bars["date"] = pd.to_datetime(bars["date"])
    halt = bars.loc[bars["date"].between("2018-04-30", "2018-05-03")]
    assert (halt["open"] == 0).all() and (halt["base_price"] == halt["close"]).all()
    assert [a["date"].date() for a in derive_actions("005930", bars)] == [SPLIT]


def test_a_reverse_split_on_resuming_after_a_long_halt():
    """079970 (투비소프트, KOSDAQ) was halted 2024-07-24..08-20 at 188 KRW and resumed on 08-21 at 1,880: a 10:1
    consolidation, for which KRX sets the base price at the previous close x 10 (the opening auction opened
    exactly there, and the day's range 1,326-2,150 is within +/-30% of it). The file carries only prices:
    the base price column is KRX's rule applied to them."""
    bars = pd.read_csv(FIXTURES / "krx_079970_2023-12_2024-09.csv", dtype={"ticker": str}, parse_dates=["date"])
    bars["base_price"] = bars["close"].shift(1)
    bars.loc[bars["date"] == "2024-08-21", "base_price"] = 188 * 10
    (action,) = derive_actions("079970", bars)
    assert action["date"].date() == D(2024, 8, 21) and action["factor"] == 10.0
    assert action["kind"] is None  # the panel's listed shares are one snapshot: they cannot tell the kind
    adjusted = back_adjust(bars, [action]).set_index("date")
    assert adjusted.loc["2024-07-23", "close"] == 1_880 and adjusted.loc["2024-07-23", "volume"] == 336_332.3


def test_an_ex_rights_day_lowers_the_base_with_the_shares_unchanged():
    """None of the recorded answers holds a rights offering or bonus issue, so these numbers are made up: a
    1-for-1 bonus issue halves the base price on the ex-rights day; the new shares list weeks later."""
    bars = pd.DataFrame({
        "date": pd.to_datetime(["2024-03-04", "2024-03-05", "2024-03-06"]),
        "close": [10_000, 5_100, 5_000], "base_price": [9_900, 5_000, 5_100], "shares": [1_000_000] * 3,
        "open": [10_000, 5_000, 5_100], "high": [10_100, 5_200, 5_150], "low": [9_900, 4_950, 4_980],
        "volume": [100, 400, 300],
    })
    (action,) = derive_actions("T", bars)
    assert (action["factor"], action["kind"]) == (0.5, "ex_rights")
    adjusted = back_adjust(bars, [action])
    assert adjusted["close"].tolist() == [5_000, 5_100, 5_000] and adjusted["volume"].tolist() == [200, 400, 300]


def test_the_base_after_a_quarantined_day_refers_to_that_day_not_to_a_ghost_event():
    bars = pd.DataFrame({"date": pd.to_datetime(["2025-06-05", "2025-06-10"]), "close": [613, 40],
                         "base_price": [613, 59]})
    # 06-09 (liquidation trading, -90%) was quarantined: the 06-10 base of 59 is its close, not a 1:10 split
    assert derive_actions("071460", bars, quarantined=[(dt.datetime(2025, 6, 9), 59.0)]) == []
    assert derive_actions("071460", bars)[0]["factor"] == pytest.approx(59 / 613)
    # a session of which nothing is known lies between: no factor can be derived
    sessions = TradingCalendar(exchange="XKRX", settings_prefix="KRX").sessions_between(D(2025, 6, 1), D(2025, 6, 10))
    assert derive_actions("071460", bars, sessions=sessions) == []
