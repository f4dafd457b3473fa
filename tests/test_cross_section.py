"""Cross-sectional measures: the registry contract for every measure, rs_rating computed by hand on a small
market, over the whole collected market rather than the analysed universe, and on back-adjusted prices."""

from __future__ import annotations

import datetime as dt
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from lib.analysis.cross_section import (
    MarketPanel,
    Measure,
    adjusted_bars,
    compute_measures,
    discover_measures,
    market_panel,
)
from measures.rs_rating import rating
from tests.conftest import PANEL
from tests.helpers import analysis_rows, evening, run_analysis, run_collection

D = dt.date
REGISTRY = discover_measures()
LAST = pd.Timestamp("2025-06-16")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    frame = pd.read_parquet(PANEL)
    frame = frame.loc[frame["ticker"].str.endswith("0")].copy()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def panel_of(bars: pd.DataFrame) -> MarketPanel:
    return market_panel((str(t), g) for t, g in bars.groupby("ticker"))


def test_rs_rating_is_registered_and_nothing_was_skipped():
    assert "rs_rating" in REGISTRY.measures and REGISTRY.errors == ()
    assert {"rs_rating", "rs_return"} <= set(REGISTRY.columns) and REGISTRY.lookback == 252


@pytest.mark.parametrize("measure", list(REGISTRY), ids=lambda m: m.name)
def test_measure_contract(measure: Measure, panel):
    assert measure.description and "\n" not in measure.description
    market = panel_of(panel)
    before = market.close.copy()
    values = compute_measures(discover_measures(), market)
    pd.testing.assert_frame_equal(market.close, before)  # pure: the input is not touched
    for column in measure.columns:
        frame = values[column]
        assert frame.shape == market.close.shape and frame.notna().any().any(), column
        assert not frame.where(~market.traded).notna().any().any()  # nothing on a day a stock did not trade
        # causal: a day's value does not depend on later sessions
        for cut in (measure.lookback + 5, len(frame) - 40):
            prefix = panel.loc[panel["date"] <= frame.index[cut - 1]]
            early = compute_measures(discover_measures(), panel_of(prefix))[column]
            pd.testing.assert_series_equal(early.iloc[-1], frame.iloc[cut - 1], check_names=False)


def test_rs_rating_of_a_five_stock_market_by_hand(panel):
    tickers = ["005930", "000660", "105560", "207940", "196170"]
    five = panel.loc[panel["ticker"].isin(tickers)]
    rs = compute_measures(REGISTRY, panel_of(five))["rs_rating"].loc[LAST]
    # by hand: 0.4 x the 3-month return + 0.2 x the 6-, 9- and 12-month returns (63/126/189/252 sessions)
    scores = {}
    for ticker in tickers:
        close = five.loc[five["ticker"] == ticker, "close"].to_numpy(dtype=float)
        now = close[-1]
        scores[ticker] = (0.4 * (now / close[-64] - 1) + 0.2 * (now / close[-127] - 1)
                          + 0.2 * (now / close[-190] - 1) + 0.2 * (now / close[-253] - 1))
    order = sorted(tickers, key=scores.get)  # weakest first: 1 + 98 x k/4 rounded half up: 1, 26, 50, 75, 99
    assert {t: rs[t] for t in order} == dict(zip(order, [1.0, 26.0, 50.0, 75.0, 99.0], strict=True))
    # closes on 2025-06-16 and 63/126/189/252 sessions before; weighted returns -0.068, 0.070, 0.301, 0.321, 0.398
    assert order == ["005930", "207940", "105560", "000660", "196170"]
    assert scores["005930"] == pytest.approx(0.4 * (57200 / 54900 - 1) + 0.2 * (57200 / 53600 - 1)
                                             + 0.2 * (57200 / 76400 - 1) + 0.2 * (57200 / 75200 - 1))


def test_ratings_share_ties_and_one_stock_is_not_ranked():
    scores = pd.DataFrame({"a": [0.1, 0.5], "b": [0.1, np.nan], "c": [0.3, np.nan]})
    assert rating(scores).iloc[0].tolist() == [1.0, 1.0, 99.0]
    assert rating(scores).iloc[1].isna().all()


def test_a_ticker_halted_today_or_with_less_than_a_year_of_history_gets_no_rating(panel):
    rs = compute_measures(REGISTRY, panel_of(panel))["rs_rating"]
    halted = panel.loc[(panel["open"] == 0), ["date", "ticker"]]
    assert rs.stack().reindex(pd.MultiIndex.from_frame(halted)).isna().all()
    assert rs.iloc[:252].isna().all().all() and rs.iloc[252].notna().sum() > 10


def test_the_panel_is_back_adjusted_so_a_split_does_not_crash_a_rating():
    from tests.test_corporate_actions import SPLIT, reference, unadjusted_005930

    bars = unadjusted_005930(start="2017-03-02", end="2018-12-28")
    bars["date"] = pd.to_datetime(bars["date"])
    adjusted, actions = adjusted_bars("005930", bars)
    market = market_panel([("005930", adjusted)])
    ref = reference(bars).set_index("date")["close"]
    np.testing.assert_allclose(market.close["005930"].to_numpy(), ref.to_numpy(), rtol=1e-12)
    three_months = market.close["005930"].pct_change(63).loc[pd.Timestamp(SPLIT):].dropna()
    assert three_months.abs().max() < 0.5  # not -98% the day the price is divided by fifty


def test_the_rating_ranks_the_whole_collected_market_not_only_the_analysed_universe(
    storage, make_settings, clock, tmp_path
):
    # ten stocks are collected; only the three largest caps are analysed, and all ten are ranked
    panel = pd.read_parquet(PANEL)
    ten = ["005930", "000660", "207940", "105560", "196170", "014470", "027050", "037070", "039860", "145020"]
    market = panel.loc[panel["ticker"].isin(ten) & (panel["date"] <= "2024-12-20")]
    path = tmp_path / "ten.parquet"
    market.to_parquet(path)
    settings = make_settings(setup_history_sessions=300, market_cap_threshold_krw=40_000_000_000_000,
                             krx_replay_path=path)
    assert run_collection("manual_setup", storage, settings, evening(D(2024, 12, 20)), clock) == 0
    analysed = sorted(t["ticker"] for t in storage.universe.universe(active_only=True))
    assert analysed == ["000660", "005930", "207940"] and len(storage.bars.stored_tickers()) == 10
    assert run_analysis(storage, settings, evening(D(2024, 12, 20), 20), clock) == 0
    whole = analysis_rows(market).set_index(["date", "ticker"])["rs_rating"]
    only_universe = analysis_rows(market.loc[market["ticker"].isin(analysed)]).set_index(["date", "ticker"])
    day = pd.Timestamp("2024-12-20")
    for ticker in analysed:
        rows = pd.DataFrame(storage.analysis.read_analysis(ticker)).set_index("date")["rs_rating"]
        mine = whole.xs(ticker, level="ticker")
        assert rows.notna().sum() == mine.notna().sum() == 4  # 256 sessions stored: rated on the last four
        assert rows.loc[day] == mine.loc[day]
        pd.testing.assert_series_equal(rows.dropna(), mine.dropna(), check_names=False, check_index_type=False)
    differs = [t for t in analysed if whole.loc[(day, t)] != only_universe.loc[(day, t), "rs_rating"]]
    assert differs  # ranked among three, they would be rated differently
    days = storage.cross_section.computed_days()
    assert len(days) == 256 and days[D(2024, 12, 20)] == {"rs_rating"}
    assert run_analysis(storage, settings, evening(D(2024, 12, 20), 21), clock) == 0
    assert storage.jobs.runs("hourly_analysis")[0]["cross_section_days"] == 0  # computed once
    # a day collected again with other prices (daily_update --redo) is computed again, with the days after it
    market.loc[(market["ticker"] == "014470") & (market["date"] == "2024-12-18"), "close"] += 10
    market.to_parquet(path)
    assert run_collection("daily_update", storage, settings, evening(D(2024, 12, 20)), clock,
                          redo=(D(2024, 12, 18),)) == 0
    assert run_analysis(storage, settings, evening(D(2024, 12, 20), 22), clock) == 0
    assert storage.jobs.runs("hourly_analysis")[0]["cross_section_days"] == 3  # 12-18, 12-19, 12-20


def test_a_broken_measure_module_is_reported_and_skipped(tmp_path, monkeypatch):
    package = tmp_path / "measures_under_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "broken.py").write_text("raise RuntimeError('boom')\n")
    (package / "clash.py").write_text(textwrap.dedent('''
        from lib.analysis.cross_section import Measure
        MEASURE = Measure(name="clash", description="Uses a reserved name", columns=("close",), lookback=1,
                          compute=lambda panel: {"close": panel.close})
    '''))
    (package / "good.py").write_text(textwrap.dedent('''
        from lib.analysis.cross_section import Measure
        MEASURE = Measure(name="cap_rank", description="Market cap percentile", columns=("cap_rank",), lookback=0,
                          compute=lambda panel: {"cap_rank": panel.market_cap.rank(axis=1, pct=True)})
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = discover_measures("measures_under_test")
    assert list(registry.measures) == ["cap_rank"] and registry.columns == ("cap_rank",)
    assert {m for m, _ in registry.errors} == {"measures_under_test.broken", "measures_under_test.clash"}
    sys.modules.pop("measures_under_test", None)
