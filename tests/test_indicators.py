"""Indicators equal TA-Lib's definitions on real KRX data (halted days left out, integer prices in)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from lib.analysis.indicators import INDICATOR_COLUMNS, compute_frame
from tests.conftest import PANEL

# Large caps, stocks with trading halts (000040, 001530), a KOSDAQ issue.
TICKERS = ["005930", "000040", "001530", "196170", "014470"]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    frame = pd.read_parquet(PANEL)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def stored_bars(panel: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """Bars as stock_data holds them: integer KRW, halted days flagged with null open/high/low."""
    bars = panel.loc[panel["ticker"] == ticker, ["date", "open", "high", "low", "close", "volume"]].copy()
    bars["halted"] = (bars["open"] == 0) & (bars["high"] == 0) & (bars["low"] == 0)
    bars[["open", "high", "low"]] = bars[["open", "high", "low"]].astype("Int64").mask(bars["halted"])
    return bars


def expected(panel: pd.DataFrame, ticker: str) -> dict[str, np.ndarray]:
    rows = panel.loc[(panel["ticker"] == ticker) & (panel["open"] > 0)].sort_values("date")
    h, lo, c, v = (rows[k].to_numpy(dtype=float) for k in ("high", "low", "close", "volume"))
    macd, signal, hist = talib.MACD(c, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(c, 20, 2, 2, 0)
    slowk, slowd = talib.STOCH(h, lo, c, 14, 3, 0, 3, 0)
    want = {f"sma_{n}": talib.SMA(c, n) for n in (5, 20, 50, 60, 120, 150, 200)}
    want |= {"ema_12": talib.EMA(c, 12), "ema_26": talib.EMA(c, 26), "macd": macd, "macd_signal": signal,
             "macd_hist": hist, "rsi_14": talib.RSI(c, 14), "bb_upper": upper, "bb_middle": middle,
             "bb_lower": lower, "stoch_k": slowk, "stoch_d": slowd, "atr_14": talib.ATR(h, lo, c, 14),
             "adx_14": talib.ADX(h, lo, c, 14), "plus_di_14": talib.PLUS_DI(h, lo, c, 14),
             "minus_di_14": talib.MINUS_DI(h, lo, c, 14), "obv": talib.OBV(c, v), "cci_20": talib.CCI(h, lo, c, 20),
             "mfi_14": talib.MFI(h, lo, c, v, 14), "willr_14": talib.WILLR(h, lo, c, 14),
             "high_52w": talib.MAX(h, 252), "low_52w": talib.MIN(lo, 252), "vol_sma_20": talib.SMA(v, 20)}
    return want


@pytest.mark.parametrize("ticker", TICKERS)
def test_every_indicator_equals_talib_wherever_talib_gives_a_value(panel, ticker):
    ours = compute_frame(stored_bars(panel, ticker))
    want = expected(panel, ticker)
    assert len(ours) == len(next(iter(want.values())))
    for column, values in want.items():
        defined = ~np.isnan(values)
        assert defined.any(), column
        got = ours[column].to_numpy()
        assert not np.isnan(got[defined]).any(), column
        np.testing.assert_allclose(got[defined], values[defined], rtol=1e-9, atol=0, err_msg=column)


def test_halted_days_get_no_row_and_do_not_reach_the_averages(panel):
    bars = stored_bars(panel, "000040")
    halted_days = set(bars.loc[bars["halted"], "date"])
    ours = compute_frame(bars)
    assert halted_days and not halted_days & set(ours["date"])
    assert (ours["low_52w"].dropna() > 0).all()


def test_hand_checkable_values_on_real_prices(panel):
    ours = compute_frame(stored_bars(panel, "005930")).set_index("date")
    closes = panel.loc[panel["ticker"] == "005930"].set_index("date")["close"]
    day = pd.Timestamp("2025-06-16")
    assert ours.loc[day, "sma_5"] == pytest.approx(closes.loc[:day].tail(5).mean(), rel=1e-12)
    highs = panel.loc[panel["ticker"] == "005930"].set_index("date")["high"]
    assert ours.loc[day, "high_52w"] == highs.loc[:day].tail(252).max()
    volumes = panel.loc[panel["ticker"] == "005930"].set_index("date")["volume"]
    assert ours.loc[day, "vol_ratio"] == pytest.approx(volumes.loc[day] / volumes.loc[:day].tail(20).mean())


def test_the_column_set_is_the_one_the_project_speaks():
    required = {"sma_5", "sma_20", "sma_60", "sma_120", "ema_12", "ema_26", "macd", "macd_signal", "macd_hist",
                "rsi_14", "bb_upper", "bb_middle", "bb_lower", "stoch_k", "stoch_d", "atr_14", "adx_14",
                "plus_di_14", "minus_di_14", "obv", "cci_20", "mfi_14", "willr_14", "high_52w", "low_52w",
                "vol_sma_20", "vol_ratio"}
    assert required <= set(INDICATOR_COLUMNS)


def test_short_histories_give_undefined_values_not_errors():
    bars = pd.DataFrame({"date": pd.date_range("2025-01-02", periods=3), "open": [100, 101, 102],
                         "high": [101, 103, 104], "low": [99, 100, 101], "close": [100, 102, 103],
                         "volume": [10, 0, 12], "halted": False})
    ours = compute_frame(bars)
    assert len(ours) == 3 and ours["sma_20"].isna().all() and ours["sma_5"].isna().all()


@pytest.mark.parametrize("seed", range(12))
def test_any_input_integer_prices_random_halts_and_lengths_equals_talib(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    close = np.maximum(1, np.round(1000 * np.exp(np.cumsum(rng.normal(0, 0.03, n))))).astype(np.int64)
    spread = rng.integers(0, 30, size=(3, n))
    frame = pd.DataFrame({
        "date": pd.date_range("2020-01-01", periods=n, freq="B"),
        "open": close + spread[0] - 10, "high": close + spread[1], "low": np.maximum(1, close - spread[2]),
        "close": close, "volume": rng.integers(0, 10**7, n),
    })
    frame["high"] = frame[["open", "high", "close"]].max(axis=1)
    frame["low"] = frame[["open", "low", "close"]].min(axis=1).clip(lower=1)
    halted = rng.random(n) < 0.05
    frame.loc[halted, ["open", "high", "low"]] = 0
    frame["halted"] = halted
    ours = compute_frame(frame)
    t = frame.loc[~halted]
    h, lo, c, v = (t[k].to_numpy(dtype=float) for k in ("high", "low", "close", "volume"))
    assert len(ours) == len(t)
    for column, values in {"rsi_14": talib.RSI(c, 14), "adx_14": talib.ADX(h, lo, c, 14),
                           "mfi_14": talib.MFI(h, lo, c, v, 14), "cci_20": talib.CCI(h, lo, c, 20),
                           "stoch_d": talib.STOCH(h, lo, c, 14, 3, 0, 3, 0)[1], "obv": talib.OBV(c, v),
                           "macd_hist": talib.MACD(c, 12, 26, 9)[2]}.items():
        got = ours[column].to_numpy()
        assert np.array_equal(np.isnan(got), np.isnan(values)), column
        np.testing.assert_allclose(got[~np.isnan(values)], values[~np.isnan(values)], rtol=1e-9, err_msg=column)
