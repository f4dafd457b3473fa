"""Technical indicators: the only module that knows how each one is computed.

Every value is TA-Lib's own definition (its C functions, same parameters, same seeding); vol_ratio is plain
NumPy. pandas-ta is not used here. With talib=False it agrees with TA-Lib only for SMA, EMA and WILLR (its
MACD, RSI, CCI, MFI, BBANDS, ATR, OBV, ADX and STOCH differ, some from the first value on), and a call costs
about 700 times TA-Lib's on 300 sessions; with TA-Lib installed it silently switches to TA-Lib anyway, so
its results would depend on the machine. `benchmarks/bench_indicators.py` prints both figures.

Halted days (open/high/low = 0 or null) are left out before computing, so their zeros never act as prices."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import talib

# The names every part of the project speaks. sma_50/150/200 serve the trend template strategy; the 52-week
# range is kept on intraday highs/lows (high_52w, low_52w) and on closes (close_high_52w, close_low_52w).
INDICATOR_COLUMNS = (
    "sma_5", "sma_20", "sma_50", "sma_60", "sma_120", "sma_150", "sma_200",
    "ema_12", "ema_26", "macd", "macd_signal", "macd_hist", "rsi_14",
    "bb_upper", "bb_middle", "bb_lower", "stoch_k", "stoch_d",
    "atr_14", "adx_14", "plus_di_14", "minus_di_14", "obv", "cci_20", "mfi_14", "willr_14",
    "high_52w", "low_52w", "close_high_52w", "close_low_52w", "vol_sma_20", "vol_ratio",
)  # fmt: skip
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
SESSIONS_52W = 252


def compute_arrays(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
) -> dict[str, np.ndarray]:
    """All indicators for one ticker's traded days (float64 arrays, oldest first); NaN where undefined."""
    high, low, close, volume = (np.ascontiguousarray(a, dtype=np.float64) for a in (high, low, close, volume))
    out: dict[str, np.ndarray] = {}
    for period in (5, 20, 50, 60, 120, 150, 200):
        out[f"sma_{period}"] = talib.SMA(close, timeperiod=period)
    out["ema_12"] = talib.EMA(close, timeperiod=12)
    out["ema_26"] = talib.EMA(close, timeperiod=26)
    out["macd"], out["macd_signal"], out["macd_hist"] = talib.MACD(
        close, fastperiod=12, slowperiod=26, signalperiod=9
    )
    out["rsi_14"] = talib.RSI(close, timeperiod=14)
    # nbdevup/nbdevdn 2 around a 20-day SMA; TA-Lib's deviation is the population one.
    out["bb_upper"], out["bb_middle"], out["bb_lower"] = talib.BBANDS(
        close, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0
    )
    out["stoch_k"], out["stoch_d"] = talib.STOCH(
        high, low, close, fastk_period=14, slowk_period=3, slowk_matype=0, slowd_period=3, slowd_matype=0
    )
    out["atr_14"] = talib.ATR(high, low, close, timeperiod=14)
    out["adx_14"] = talib.ADX(high, low, close, timeperiod=14)
    out["plus_di_14"] = talib.PLUS_DI(high, low, close, timeperiod=14)
    out["minus_di_14"] = talib.MINUS_DI(high, low, close, timeperiod=14)
    out["obv"] = talib.OBV(close, volume)
    out["cci_20"] = talib.CCI(high, low, close, timeperiod=20)
    out["mfi_14"] = talib.MFI(high, low, close, volume, timeperiod=14)
    out["willr_14"] = talib.WILLR(high, low, close, timeperiod=14)
    out["high_52w"] = talib.MAX(high, timeperiod=SESSIONS_52W)
    out["low_52w"] = talib.MIN(low, timeperiod=SESSIONS_52W)
    out["close_high_52w"] = talib.MAX(close, timeperiod=SESSIONS_52W)
    out["close_low_52w"] = talib.MIN(close, timeperiod=SESSIONS_52W)
    out["vol_sma_20"] = talib.SMA(volume, timeperiod=20)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = volume / out["vol_sma_20"]
    out["vol_ratio"] = np.where(out["vol_sma_20"] > 0, ratio, np.nan)
    return out


def traded_mask(bars: pd.DataFrame) -> np.ndarray:
    """True on the days the stock traded: not halted (flagged, or open/high/low zero or null)."""
    ohl = bars[["open", "high", "low"]].to_numpy(dtype=np.float64, na_value=np.nan)
    keep = ~(np.isnan(ohl).any(axis=1) | (ohl == 0).all(axis=1))
    if "halted" in bars:
        keep &= ~bars["halted"].fillna(False).to_numpy(dtype=bool)
    return keep


def traded(bars: pd.DataFrame) -> pd.DataFrame:
    """The bars of days the stock traded: halted days (flagged, or open/high/low zero or null) removed."""
    return bars.loc[traded_mask(bars)]


def compute_many(bars: pd.DataFrame) -> pd.DataFrame:
    """Indicator rows for many tickers at once (a long frame with `ticker`, `date`, OHLCV, optional `halted`):
    `ticker`, `date`, OHLCV and INDICATOR_COLUMNS for traded days, by ticker then date."""
    rows = traded(bars)
    if not (rows["ticker"].is_monotonic_increasing and _dates_ascending_within(rows)):
        rows = rows.sort_values(["ticker", "date"], kind="stable")
    tickers = rows["ticker"].to_numpy()
    n = len(rows)
    columns = (*PRICE_COLUMNS, *INDICATOR_COLUMNS)
    # One float block (a row per column) filled in place: pandas takes it without copying or consolidating.
    block = np.full((len(columns), n), np.nan)
    for j, column in enumerate(PRICE_COLUMNS):
        block[j] = rows[column].to_numpy(dtype=np.float64, na_value=np.nan)
    high, low, close, volume = (block[columns.index(c)] for c in ("high", "low", "close", "volume"))
    first = len(PRICE_COLUMNS)
    cuts = np.flatnonzero(tickers[1:] != tickers[:-1]) + 1 if n else np.array([], dtype=int)
    for start, end in zip(np.r_[0, cuts], np.r_[cuts, n], strict=True):
        if end <= start:
            continue
        values = compute_arrays(high[start:end], low[start:end], close[start:end], volume[start:end])
        for j, column in enumerate(INDICATOR_COLUMNS, start=first):
            block[j, start:end] = values[column]
    frame = pd.DataFrame(block.T, columns=list(columns), copy=False)
    frame.insert(0, "date", rows["date"].to_numpy())
    frame.insert(0, "ticker", tickers)
    return frame


def _dates_ascending_within(rows: pd.DataFrame) -> bool:
    dates = rows["date"].to_numpy()
    same = rows["ticker"].to_numpy()[1:] == rows["ticker"].to_numpy()[:-1]
    return bool(np.all(dates[1:][same] >= dates[:-1][same]))


def compute_frame(bars: pd.DataFrame) -> pd.DataFrame:
    """Indicator rows for one ticker: `date` + OHLCV + INDICATOR_COLUMNS, traded days only, oldest first."""
    return compute_many(bars.assign(ticker="")).drop(columns=["ticker"])


def row_documents(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Indicator rows as MongoDB documents: NaN (undefined) becomes null."""
    records = frame.to_dict("records")
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in rec.items()} for rec in records]


def as_frame(documents: list[Mapping[str, object]]) -> pd.DataFrame:
    """Stored indicator rows back into a frame (null becomes NaN), oldest first. Every column but `date` and
    `ticker` is a number (prices, indicators and the cross-sectional measures merged into the rows)."""
    frame = pd.DataFrame.from_records(list(documents))
    if frame.empty:
        return frame
    numeric = [c for c in frame.columns if c not in ("date", "ticker")]
    frame[numeric] = frame[numeric].astype("float64")
    return frame.sort_values("date").reset_index(drop=True)
