"""Strategies: the registry contract for every plugin, hand-checkable picks on real data, track records."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from lib.analysis.screener import Strategy, _signals, discover, episode_starts, picks_on, track_record
from lib.display import priced_in
from lib.errors import ConfigError
from tests.conftest import PANEL
from tests.helpers import analysis_rows

REGISTRY = discover()
REQUIRED = {
    "macd_golden_cross", "golden_cross", "death_cross", "rsi_oversold_rebound", "bollinger_breakout",
    "bollinger_squeeze", "volume_spike", "new_52w_high", "stochastic_cross", "adx_trend",
    "minervini_trend_template", "rs_leaders",
}  # fmt: skip


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return analysis_rows(pd.read_parquet(PANEL))


def ticker_rows(rows: pd.DataFrame, ticker: str) -> pd.DataFrame:
    return rows.loc[rows["ticker"] == ticker].reset_index(drop=True)


def test_every_required_strategy_is_registered_and_nothing_was_skipped():
    assert REQUIRED <= set(REGISTRY.strategies)
    assert REGISTRY.errors == ()
    with pytest.raises(TypeError):
        REGISTRY.strategies["x"] = REGISTRY["golden_cross"]  # read-only


@pytest.mark.parametrize("strategy", list(REGISTRY), ids=lambda s: s.name)
def test_strategy_contract(strategy: Strategy, rows):
    assert strategy.description and "\n" not in strategy.description
    assert strategy.score_meaning and "\n" not in strategy.score_meaning, "say what the score measures"
    for name, field in strategy.params.model_fields.items():
        assert not field.is_required() and field.description, name
        if field.annotation in (int, float):
            bounds = {type(m).__name__ for m in field.metadata}
            assert {"Ge", "Le"} <= bounds, f"{name} needs bounds"
    params = strategy.params()
    for extra in ({"nonexistent": 1}, {"$where": "1"}, {"$gt": 0}):  # unknown names are refused, never ignored
        with pytest.raises(ConfigError, match="unknown parameter"):
            strategy.parse_params(extra)
    fired_any = False
    for ticker in ("005930", "000040", "196170", "014470"):
        frame = ticker_rows(rows, ticker)
        before = frame.copy()
        out = _signals(strategy, frame, params)
        pd.testing.assert_frame_equal(frame, before)  # pure: the input is not touched
        assert len(out) == len(frame) and out["fired"].dtype == bool
        # causal: what fires on a day does not depend on later rows
        for cut in (strategy.lookback + 5, len(frame) // 2, len(frame) - 3):
            prefix = _signals(strategy, frame.iloc[:cut].copy(), params).iloc[-1]
            full = out.iloc[cut - 1]
            assert prefix["fired"] == full["fired"], (ticker, cut)
            assert np.isclose(prefix["score"], full["score"], equal_nan=True), (ticker, cut)
        for index in np.flatnonzero(out["fired"].to_numpy())[:3]:
            fired_any = True
            assert strategy.reason(frame.iloc[index], params).strip()
    assert fired_any, "fires at least once on the real sample"


STRATEGY_SOURCE = textwrap.dedent('''
    import pandas as pd
    from pydantic import BaseModel, Field
    from lib.analysis.screener import Strategy

    class Params(BaseModel):
        level: float = Field(1.0, ge=0, le=10, description="level")

    class Required(BaseModel):
        level: float

    STRATEGY = Strategy(
        name=NAME, description="Fires every day", params=PARAMS, lookback=LOOKBACK, columns=COLUMNS,
        signals=lambda rows, p: pd.DataFrame({"fired": rows["close"] > 0, "score": rows["close"]}),
        reason=lambda row, p: "always",
    )
''')


def test_a_strategy_breaking_the_strategy_rules_is_reported_and_skipped(tmp_path, monkeypatch):
    # What any plugin may get wrong (imports, names, descriptions) is tests/test_plugins.py's; these are a
    # strategy's own rules: typed parameters with defaults, a lookback, columns the analysis stores.
    package = tmp_path / "plugins_under_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    modules = {
        "good": ("always", "Params", 1, ("close", "rs_rating")),  # a measure's column reads like an indicator
        "untyped": ("untyped", "dict", 1, ("close",)),
        "required": ("required", "Required", 1, ("close",)),
        "no_lookback": ("no_lookback", "Params", 0, ("close",)),
        "unknown_column": ("unknown_column", "Params", 1, ("close", "sma_7")),
    }
    for module, (name, params, lookback, columns) in modules.items():
        head = f"NAME = {name!r}\nLOOKBACK = {lookback}\nCOLUMNS = {columns!r}\n"
        (package / f"{module}.py").write_text(head + STRATEGY_SOURCE.replace("PARAMS", params))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = discover("plugins_under_test")
    assert list(registry.strategies) == ["always"]
    errors = {module.removeprefix("plugins_under_test."): error for module, error in registry.errors}
    assert errors == {
        "untyped": "TypeError: params must be a pydantic model class",
        "required": "ValueError: parameters without defaults: ['level']",
        "no_lookback": "ValueError: lookback must be at least 1 session",
        "unknown_column": "ValueError: unknown columns ['sma_7']",
    }
    for module in [m for m in sys.modules if m.startswith("plugins_under_test")]:
        del sys.modules[module]


def test_parameters_are_typed_and_bounded():
    golden = REGISTRY["golden_cross"]
    assert golden.parse_params({"fast": 5, "slow": 20}).slow == 20
    with pytest.raises(ConfigError, match="parameter slow"):
        golden.parse_params({"slow": 33})
    with pytest.raises(ConfigError, match="fast must be shorter than slow"):
        golden.parse_params({"fast": 60, "slow": 20})
    with pytest.raises(ConfigError, match="unknown strategy 'nope'"):
        REGISTRY["nope"]


# --- hand-checkable picks: each strategy's rule re-checked from the raw row values of a real day -------------


def row_pair(rows, ticker, day):
    frame = ticker_rows(rows, ticker)
    i = int(np.flatnonzero(frame["date"] == pd.Timestamp(day))[0])
    return frame.iloc[i], frame.iloc[i - 1], frame, i


ORACLES = {
    "macd_golden_cross": lambda t, y, f, i: t.macd > t.macd_signal and any(
        f.macd[j] > f.macd_signal[j] and f.macd[j - 1] <= f.macd_signal[j - 1] for j in range(i - 2, i + 1)),
    "golden_cross": lambda t, y, f, i: t.sma_20 > t.sma_60 and any(
        f.sma_20[j] > f.sma_60[j] and f.sma_20[j - 1] <= f.sma_60[j - 1] for j in range(i - 2, i + 1)),
    "death_cross": lambda t, y, f, i: t.sma_20 < t.sma_60 and any(
        f.sma_20[j] < f.sma_60[j] and f.sma_20[j - 1] >= f.sma_60[j - 1] for j in range(i - 2, i + 1)),
    "rsi_oversold_rebound": lambda t, y, f, i: 30 <= t.rsi_14 < 50 and any(
        f.rsi_14[j] >= 30 > f.rsi_14[j - 1] for j in range(i - 2, i + 1)),
    "bollinger_breakout": lambda t, y, f, i: t.close > t.bb_upper and y.close <= y.bb_upper and t.vol_ratio >= 1,
    "bollinger_squeeze": lambda t, y, f, i: (t.bb_upper - t.bb_lower) / t.bb_middle <= 1.05 * min(
        (f.bb_upper[j] - f.bb_lower[j]) / f.bb_middle[j] for j in range(i - 119, i + 1)),
    "volume_spike": lambda t, y, f, i: t.volume >= 3 * t.vol_sma_20 and t.close > t.open,
    "new_52w_high": lambda t, y, f, i: t.high == f.high[max(0, i - 251): i + 1].max() and t.high > y.high_52w,
    "stochastic_cross": lambda t, y, f, i: t.stoch_k > t.stoch_d and y.stoch_k <= y.stoch_d
    and y.stoch_k < 20 and t.stoch_d < 20,
    "adx_trend": lambda t, y, f, i: t.adx_14 >= 25 and t.plus_di_14 > t.minus_di_14 and t.adx_14 > f.adx_14[i - 5],
    "minervini_trend_template": lambda t, y, f, i: t.close > t.sma_150 > t.sma_200 and t.close > t.sma_200
    and t.sma_200 > f.sma_200[i - 21] and t.sma_50 > t.sma_150 and t.close > t.sma_50
    and i >= 251 and t.close >= 1.3 * f.close[i - 251: i + 1].min() and t.close >= 0.75 * f.close[i - 251: i + 1].max()
    and t.rs_rating >= 70,
    "rs_leaders": lambda t, y, f, i: t.rs_rating >= 90 and t.close > t.sma_50,
}


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_picks_on_a_real_day_satisfy_the_rule_checked_by_hand(name, rows):
    strategy = REGISTRY[name]
    params = strategy.params()
    # the first days on which the strategy picks anything in the sample (among days its columns are defined)
    defined = rows.loc[rows[list(strategy.columns)].notna().all(axis=1), "date"]
    days = sorted(rows["date"].unique())
    checked = 0
    for day in [d for d in days[strategy.lookback // 2 :] if d >= defined.min()]:
        picks = picks_on(strategy, params, rows, pd.Timestamp(day).date())
        if not picks:
            continue
        for pick in picks:
            today, yesterday, frame, i = row_pair(rows, pick.ticker, day)
            assert ORACLES[name](today, yesterday, frame, i), (pick.ticker, day)
            assert pick.values["close"] == today.close and pick.reason
        # and on the same day the others do not satisfy it
        for ticker in set(rows.loc[rows["date"] == day, "ticker"]) - {p.ticker for p in picks}:
            today, yesterday, frame, i = row_pair(rows, ticker, day)
            if i > strategy.lookback:
                assert not ORACLES[name](today, yesterday, frame, i), (ticker, day)
        checked += 1
        if checked == 3:
            break
    assert checked == 3


def test_track_record_counts_forward_returns_of_past_picks_against_the_universe(rows):
    strategy = REGISTRY["volume_spike"]
    record = track_record(strategy, strategy.params(), rows)
    # the same by hand: every first day of a run of firing days, its close 5 traded sessions later
    def fires(row):
        return row.vol_ratio >= 3 and row.close > row.open

    returns, dates, firing = [], [], 0
    for _, frame in rows.groupby("ticker"):
        frame = frame.reset_index(drop=True)
        for i in range(len(frame)):
            t = frame.iloc[i]
            firing += fires(t)
            if fires(t) and not (i > 0 and fires(frame.iloc[i - 1])) and i + 5 < len(frame):
                returns.append(frame.close[i + 5] / t.close - 1)
                dates.append(t.date)
    five = record["horizons"]["5"]
    assert five["count"] == len(returns) > 10
    assert record["firing_days"] == firing > record["picks"] >= len(returns)
    assert five["mean"] == pytest.approx(np.mean(returns))
    assert five["hit_rate"] == pytest.approx(np.mean(np.array(returns) > 0))
    everyone = rows.sort_values(["ticker", "date"]).copy()
    everyone["r5"] = everyone.groupby("ticker")["close"].shift(-5) / everyone["close"] - 1
    by_day = everyone.groupby("date")["r5"].mean()
    assert five["universe_mean"] == pytest.approx(by_day.loc[dates].mean())
    assert five["excess_mean"] == pytest.approx(five["mean"] - five["universe_mean"])
    # one stock at a time (how the job reads it, to keep memory flat) gives the same numbers
    streamed = track_record(strategy, strategy.params(), (g for _, g in rows.groupby("ticker")))
    assert streamed["picks"] == record["picks"]
    for horizon, stats in record["horizons"].items():
        assert streamed["horizons"][horizon] == pytest.approx(stats)



def _extreme_params(strategy: Strategy) -> list:
    """Defaults, then each parameter at each end of its bounds (or each Literal choice), when valid."""
    import typing

    sets = [strategy.params()]
    for name, field in strategy.params.model_fields.items():
        if typing.get_origin(field.annotation) is typing.Literal:
            values = list(typing.get_args(field.annotation))
        else:
            bounds = {type(m).__name__: m for m in field.metadata}
            values = [bounds[k].ge if k == "Ge" else bounds[k].le for k in ("Ge", "Le") if k in bounds]
        for value in values:
            try:
                sets.append(strategy.parse_params({name: value}))
            except ConfigError:
                continue
    return sets


@pytest.mark.parametrize("strategy", list(REGISTRY), ids=lambda s: s.name)
def test_lookback_covers_every_allowed_parameter_value(strategy: Strategy, rows):
    """A day's picks read only `lookback` rows: with any parameter at either end of its bounds, the last
    `lookback` rows must give the same signal as the whole history."""
    for params in _extreme_params(strategy):
        for ticker in ("005930", "000040", "196170", "014470"):
            frame = ticker_rows(rows, ticker)
            full = _signals(strategy, frame, params)
            fired = [i for i in np.flatnonzero(full["fired"].to_numpy()) if i >= strategy.lookback - 1][:3]
            for end in [*fired, len(frame) - 1]:
                window = frame.iloc[end - strategy.lookback + 1 : end + 1].reset_index(drop=True)
                last = _signals(strategy, window, params).iloc[-1]
                assert last["fired"] == full["fired"].iloc[end], (ticker, params, end)
                assert np.isclose(last["score"], full["score"].iloc[end], equal_nan=True), (ticker, params, end)


def test_the_new_52_week_high_reason_does_not_quote_the_day_own_high_as_the_previous_one(rows):
    strategy = REGISTRY["new_52w_high"]
    seen = 0
    for ticker in ("005930", "000040", "196170", "014470"):
        frame = ticker_rows(rows, ticker)
        fired = _signals(strategy, frame, strategy.params())["fired"].to_numpy()
        for index in np.flatnonzero(fired)[:3]:
            seen += 1
            row = frame.iloc[index]
            text = strategy.reason(row, strategy.params())
            assert row["high"] == row["high_52w"] and "previous range" not in text
            high, close = f"{row['high']:,.0f} KRW", f"{row['close']:,.0f} KRW"
            assert text.startswith(f"high {high} is a new 52-week high; close {close} is ")
    assert seen


def test_a_reason_gives_every_price_its_unit_and_thousands_separators():
    row = pd.Series({"macd": 39363.42, "macd_signal": 33187.29, "close": 554000.0, "volume": 1234567.0,
                     "vol_ratio": 3.4})
    macd = REGISTRY["macd_golden_cross"]
    assert macd.reason(row, macd.params()) == (
        "MACD 39,363 KRW above its signal 33,187 KRW after crossing it within 3 sessions")
    spike = REGISTRY["volume_spike"]
    assert spike.reason(row, spike.params()) == "volume 1,234,567 shares is 3.4x its 20-day average"
    cheap = pd.Series({"macd": 5.234, "macd_signal": -1.5})  # a 500-won stock's MACD is a few won
    assert macd.reason(cheap, macd.params()).startswith("MACD 5.23 KRW above its signal -1.50 KRW")
    with priced_in("USD"):  # a US stock's reason, as the US analysis and /screener?market=us write it
        assert macd.reason(cheap, macd.params()).startswith("MACD 5.23 USD above its signal -1.50 USD")
        assert macd.reason(row, macd.params()).startswith("MACD 39,363.42 USD above its signal 33,187.29 USD")
    assert macd.reason(cheap, macd.params()).startswith("MACD 5.23 KRW")  # back to KRX's after the block


# --- the trend template's eighth criterion and its 52-week range -----------------------------------------


def template_fires(rows, ticker: str, day: str, **params) -> bool:
    strategy = REGISTRY["minervini_trend_template"]
    picks = picks_on(strategy, strategy.parse_params(params), rows, pd.Timestamp(day).date())
    return ticker in {p.ticker for p in picks}


def test_the_trend_template_with_and_without_its_eighth_criterion(rows):
    row = ticker_rows(rows, "105560").set_index("date").loc[pd.Timestamp("2025-06-16")]
    # the first seven criteria hold for KB금융 that day ...
    assert row.close > row.sma_50 > row.sma_150 > row.sma_200 and row.close >= 0.75 * row.close_high_52w
    assert row.close >= 1.3 * row.close_low_52w
    # ... but its relative strength rating is 66, under the default 70
    assert row.rs_rating == 66
    assert not template_fires(rows, "105560", "2025-06-16")
    assert template_fires(rows, "105560", "2025-06-16", min_rs_rating=0)
    assert template_fires(rows, "105560", "2025-06-16", min_rs_rating=66)


def test_the_52_week_range_on_closes_by_default_or_on_intraday_highs(rows):
    row = ticker_rows(rows, "000670").set_index("date").loc[pd.Timestamp("2025-03-06")]
    # 영풍 closed at 44,850 with rs 70: within 25% of its highest close (55,210), not of its intraday high (62,861)
    assert (row.close, row.close_high_52w, row.high_52w, row.rs_rating) == (44_850, 55_210, 62_861, 70)
    assert template_fires(rows, "000670", "2025-03-06")
    assert not template_fires(rows, "000670", "2025-03-06", range_basis="intraday")
    with pytest.raises(ConfigError, match="range_basis"):
        REGISTRY["minervini_trend_template"].parse_params({"range_basis": "weekly"})


# --- track records count episodes -------------------------------------------------------------------------


def test_a_run_of_firing_days_is_one_episode():
    fired = np.array([False, True, True, True, False, True, False, True, True])
    assert np.flatnonzero(episode_starts(fired)).tolist() == [1, 5, 7]


def test_a_within_n_days_signal_counts_each_cross_once(rows):
    strategy = REGISTRY["macd_golden_cross"]  # fires on the cross and up to two sessions after it
    record = track_record(strategy, strategy.params(), rows)
    crosses = 0
    for _, frame in rows.groupby("ticker"):
        fired = _signals(strategy, frame.reset_index(drop=True), strategy.params())["fired"].to_numpy()
        crosses += int(episode_starts(fired).sum())
    assert record["picks"] == crosses and record["firing_days"] > 2 * crosses
