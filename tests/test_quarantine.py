"""Impossible prices are never stored silently: a bar beyond KRX's daily limit (or outside its own low-high)
is quarantined with its reason and the rest of the market's day is stored; an answer that is mostly
impossible (a file with every close doubled) is refused and asked again."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lib.markets.krx.quarantine import daily_limit, screen_days
from lib.markets.krx.replay import ReplaySource
from lib.markets.krx.source_base import Query, validate_market_day
from lib.spine.quarantine import PriorClose
from lib.spine.records import MarketDay
from tests.api.conftest import api_settings
from tests.conftest import FIXTURES, PANEL
from tests.helpers import evening, run_analysis, run_collection

D = dt.date
DAY = D(2024, 9, 2)


def completed(storage) -> list[dt.date]:
    return [
        D.fromisoformat(d["date_kst"]) for d in storage.jobs.day_records("daily_update") if d["status"] == "completed"
    ]


def panel_file(tmp_path, panel: pd.DataFrame, name: str = "panel.parquet"):
    path = tmp_path / name
    panel.to_parquet(path)
    return path


def doubled(panel: pd.DataFrame, day: dt.date, tickers: list[str] | None = None) -> pd.DataFrame:
    """The panel with the close of every (or these) stock(s) doubled on one day."""
    out = panel.copy()
    rows = out["date"] == day.isoformat()
    if tickers is not None:
        rows &= out["ticker"].isin(tickers)
    out.loc[rows, "close"] *= 2
    return out


def test_the_daily_limit_is_krxs():
    assert daily_limit(D(2015, 6, 15)) == 0.30 and daily_limit(D(2015, 6, 12)) == 0.15
    assert daily_limit(D(1998, 12, 4)) is None


def test_a_file_with_every_close_of_a_day_doubled_is_refused_and_the_next_run_stores_the_fixed_day(
    storage, make_settings, clock, tmp_path, caplog
):
    panel = pd.read_parquet(PANEL)
    clean = make_settings(setup_history_sessions=5)
    assert run_collection("manual_setup", storage, clean, evening(D(2024, 8, 30)), clock) == 0
    corrupt = make_settings(krx_replay_path=panel_file(tmp_path, doubled(panel, DAY)))
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        # only a local file serves the day: exit 2, fix the file
        assert run_collection("daily_update", storage, corrupt, evening(D(2024, 9, 4)), clock) == 2
    assert "KOSPI 2024-09-02 refused: 13 of 13 checked rows break KRX's price rules" in caplog.text
    assert "the answer looks corrupt and is not stored" in caplog.text
    assert "correct the file" in caplog.text
    # the day stays pending, nothing of it is stored, and the sessions after it are collected
    (record,) = [d for d in storage.jobs.day_records("daily_update") if d["date_kst"] == "2024-09-02"]
    assert record["status"] == "failed" and "break KRX's price rules" in record["missing"]["KOSDAQ"]
    assert completed(storage)[-2:] == [D(2024, 9, 3), D(2024, 9, 4)]
    assert storage.bars.read_bars("005930", DAY, DAY) == [] and storage.bad_data.quarantined() == []
    assert run_collection("daily_update", storage, clean, evening(D(2024, 9, 4)), clock) == 0
    assert completed(storage)[-3:] == [DAY, D(2024, 9, 3), D(2024, 9, 4)]
    assert storage.bars.read_bars("005930", DAY, DAY)[0]["close"] == 74_400


def test_a_whole_file_with_every_close_doubled_stores_nothing_even_on_a_fresh_install(
    storage, make_settings, clock, tmp_path, caplog
):
    panel = pd.read_parquet(PANEL)
    every = panel.assign(close=panel["close"] * 2)
    settings = make_settings(setup_history_sessions=5, krx_replay_path=panel_file(tmp_path, every))
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        assert run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock) == 2
    # no previous close to compare with, but each close lies far above its own day's high
    assert "lies outside the day's range" in caplog.text and "2024-08-26" in caplog.text
    assert completed(storage) == [] and storage.bars.read_bars("005930") == []


def test_one_doubled_close_is_quarantined_the_rest_of_the_day_is_stored_and_a_redo_releases_it(
    storage, make_settings, clock, tmp_path, caplog
):
    panel = pd.read_parquet(PANEL)
    clean = make_settings(setup_history_sessions=5)
    run_collection("manual_setup", storage, clean, evening(D(2024, 8, 30)), clock)
    corrupt = make_settings(krx_replay_path=panel_file(tmp_path, doubled(panel, DAY, ["005930"])))
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        assert run_collection("daily_update", storage, corrupt, evening(D(2024, 9, 3)), clock) == 0
    assert completed(storage)[-2:] == [DAY, D(2024, 9, 3)]
    assert storage.bars.read_bars("005930", DAY, DAY) == []
    assert storage.bars.read_bars("000660", DAY, DAY)[0]["close"] == 174_000  # the rest of the market's day is stored
    assert storage.bars.read_bars("005930", D(2024, 9, 3))[0]["close"] == 72_500  # and the next day, against 08-30
    (held,) = storage.bad_data.quarantined()
    assert held["ticker"] == "005930" and held["date_kst"] == "2024-09-02" and held["bar"]["close"] == 148_800
    assert "close 148,800 is +100.3% from the previous close 74,300" in held["reason"]
    assert "outside the day's range" in held["reason"]
    assert "QUARANTINED 005930 2024-09-02" in caplog.text and "--redo 2024-09-02" in caplog.text
    assert storage.jobs.runs("daily_update")[0]["quarantined"] == 1
    assert run_collection("daily_update", storage, clean, evening(D(2024, 9, 3)), clock, redo=(DAY,)) == 0
    assert storage.bars.read_bars("005930", DAY, DAY)[0]["close"] == 74_400 and storage.bad_data.quarantined() == []


@pytest.fixture
def with_079970() -> pd.DataFrame:
    """The fixture panel plus 079970 (KOSDAQ), halted 2024-07-24..08-20, resuming 10x higher (a 10:1
    consolidation) on 2024-08-21."""
    extra = pd.read_csv(FIXTURES / "krx_079970_2023-12_2024-09.csv", dtype={"ticker": str, "date": str})
    panel = pd.read_parquet(PANEL)
    return pd.concat([panel, extra.loc[:, panel.columns]], ignore_index=True)


def test_a_level_shift_without_a_base_price_is_quarantined_once_then_confirmed_by_the_next_day(
    storage, make_settings, clock, tmp_path, with_079970, caplog
):
    settings = make_settings(setup_history_sessions=5, krx_replay_path=panel_file(tmp_path, with_079970))
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 16)), clock)
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        assert run_collection("daily_update", storage, settings, evening(D(2024, 8, 23)), clock) == 0
    assert [(q["ticker"], q["date_kst"]) for q in storage.bad_data.quarantined()] == [("079970", "2024-08-21")]
    assert "+1043.6% from the previous close 188" in storage.bad_data.quarantined()[0]["reason"]  # its high, 2,150
    stored = {b["date"].date(): b["close"] for b in storage.bars.read_bars("079970", D(2024, 8, 20))}
    assert stored == {D(2024, 8, 20): 188, D(2024, 8, 22): 1_385, D(2024, 8, 23): 1_415}
    assert "079970 2024-08-22: close 1,385 is beyond the limit from the last stored close 188" in caplog.text


def test_a_one_stock_file_with_a_consolidation_is_not_refused_for_ever(storage, make_settings, clock):
    # Importing one stock's history: the consolidation day is 1 of 1 checked rows. Refusing that answer as
    # corrupt kept every later day out too (each compared with the last stored close 188).
    only = FIXTURES / "krx_079970_2023-12_2024-09.csv"
    settings = make_settings(setup_history_sessions=5, krx_replay_path=only)
    assert run_collection("manual_setup", storage, settings, evening(D(2024, 8, 16)), clock) == 0
    assert run_collection("daily_update", storage, settings, evening(D(2024, 8, 26)), clock) == 0
    assert [(q["ticker"], q["date_kst"]) for q in storage.bad_data.quarantined()] == [("079970", "2024-08-21")]
    stored = {b["date"].date(): b["close"] for b in storage.bars.read_bars("079970", D(2024, 8, 20))}
    assert stored == {D(2024, 8, 20): 188, D(2024, 8, 22): 1_385, D(2024, 8, 23): 1_415, D(2024, 8, 26): 1_449}


def test_with_krxs_base_price_the_consolidation_is_stored_and_becomes_a_factor(
    storage, make_settings, clock, tmp_path, with_079970
):
    panel = with_079970.sort_values(["ticker", "date"])
    panel["base_price"] = panel.groupby("ticker")["close"].shift(1)
    panel.loc[(panel["ticker"] == "079970") & (panel["date"] == "2024-08-21"), "base_price"] = 1_880
    csv = tmp_path / "with_base.csv"
    panel.to_csv(csv, index=False)  # a CSV replay file with the optional base_price column
    settings = make_settings(setup_history_sessions=25, krx_replay_path=csv, market_cap_threshold_krw=0)
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 16)), clock)
    assert run_collection("daily_update", storage, settings, evening(D(2024, 8, 23)), clock) == 0
    assert storage.bad_data.quarantined() == []
    assert storage.bars.read_bars("079970", D(2024, 8, 21), D(2024, 8, 21))[0]["base_price"] == 1_880
    assert run_analysis(storage, settings, evening(D(2024, 8, 23), 20), clock) == 0
    (action,) = storage.corporate_actions.corporate_actions("079970")
    assert action["factor"] == 10.0 and action["previous_close"] == 188
    rows = {r["date"].date(): r for r in storage.analysis.read_analysis("079970")}
    assert D(2024, 8, 20) not in rows  # halted
    assert rows[D(2024, 7, 23)]["close"] == 1_880 and rows[D(2024, 7, 23)]["volume"] == pytest.approx(336_332.3)
    assert rows[D(2024, 8, 21)]["close"] == 1_577  # from the ex-date on, prices as traded
    # GET /stocks/{ticker} shows the event next to the bars as traded
    app = create_app(api_settings(), storage=storage, clock=lambda: evening(D(2024, 8, 26)))
    body = TestClient(app).get("/stocks/079970", params={"days": 30}).json()
    assert body["corporate_actions"] == [{"date": "2024-08-21", "factor": 10.0, "kind": None, "base_price": 1880.0,
                                          "previous_close": 188.0, "shares_before": 31_804_885,
                                          "shares_after": 31_804_885}]
    traded = {r["date"]: r for r in body["rows"]}
    assert traded["2024-07-23"]["close"] == 188 and traded["2024-08-21"]["close"] == 1_577


def test_real_days_pass_including_a_resumption_after_a_194_session_halt(storage, make_settings, clock):
    # 001080 (만호제강) is halted from the fixture's first day and resumes on 2024-09-23 at -19%.
    settings = make_settings(setup_history_sessions=10)
    assert run_collection("manual_setup", storage, settings, evening(D(2024, 9, 27)), clock) == 0
    assert storage.bad_data.quarantined() == []
    bars = {b["date"].date(): b for b in storage.bars.read_bars("001080")}
    assert bars[D(2024, 9, 20)]["halted"] and not bars[D(2024, 9, 23)]["halted"]
    assert bars[D(2024, 9, 23)]["close"] == 36_300


def market_day(day: dt.date, market: str = "KOSPI") -> pd.DataFrame:
    replay = ReplaySource(PANEL)
    query = Query(day, market)
    return validate_market_day(replay.normalise(replay.fetch_raw(query), query), query, "replay").frame


def answer(frame: pd.DataFrame, day: dt.date) -> MarketDay:
    """A market day's (edited) rows as the sources deliver them."""
    return MarketDay(frame, "replay", "KOSPI", day)


def test_a_halted_day_keeps_its_close_and_a_changed_halted_close_is_caught():
    frame = market_day(D(2024, 2, 28))
    halted = frame.set_index("ticker").loc["000040"]
    assert halted["halted"]
    prior = {"000040": PriorClose(float(halted["close"]))}
    assert screen_days([(D(2024, 2, 28), [answer(frame, D(2024, 2, 28))])], prior).quarantined == []
    bad = frame.copy()
    bad.loc[bad["ticker"] == "000040", "close"] *= 2
    (held,) = screen_days([(D(2024, 2, 28), [answer(bad, D(2024, 2, 28))])], prior).quarantined
    assert held.ticker == "000040" and held.reason.startswith("close 2,682 is +100.0% from the previous close")


def test_a_new_listings_first_day_is_not_held_to_the_limit_of_its_offering_price():
    """No listing day is in the recorded data: 005930's real 2024-09-02 bar stands in for one, listed at an
    offering price of 30,000 KRW (its close 74,400 is +148%, inside the first day's 60%-400% range)."""
    frame = market_day(DAY).assign(base_price=np.nan)
    frame.loc[frame["ticker"] == "005930", "base_price"] = 30_000
    others = {t: PriorClose(float(c)) for t, c in zip(frame["ticker"], frame["close"], strict=True) if t != "005930"}
    screened = screen_days([(DAY, [answer(frame, DAY)])], others)
    assert screened.quarantined == [] and "005930" in set(screened.kept[0][1][0].frame["ticker"])
    # the next day the same move from its base would be impossible
    (held,) = screen_days([(DAY, [answer(frame, DAY)])], {**others, "005930": PriorClose(30_000.0)}).quarantined
    assert held.ticker == "005930" and "from the base price 30,000" in held.reason
