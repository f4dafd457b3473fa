"""Benchmark: the full indicator set for 1,300 tickers x 300 sessions through lib.analysis.indicators, next to calling
TA-Lib directly on the same arrays in the same run (target: within 3x), and pandas-ta (talib=False) on a
subset for reference; prints peak memory too. Prints figures; asserts nothing.

    ./dev bench indicators
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import talib  # noqa: E402

from lib.analysis.indicators import compute_many  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "krx_sample.parquet"
TICKERS, SESSIONS = 1300, 300


def universe() -> list[pd.DataFrame]:
    """1,300 real 300-session series: the sample's common stocks, repeated with scaled prices."""
    panel = pd.read_parquet(SAMPLE)
    panel = panel.loc[panel["ticker"].str.endswith("0")]
    days = sorted(panel["date"].unique())[-SESSIONS:]
    panel = panel.loc[panel["date"].isin(days)]
    panel["date"] = pd.to_datetime(panel["date"])
    base = [g.drop(columns=["ticker"]).reset_index(drop=True) for _, g in panel.groupby("ticker")]
    series = []
    for i in range(TICKERS):
        frame = base[i % len(base)].copy()
        scale = 1 + (i // len(base)) * 0.013
        frame[["open", "high", "low", "close"]] = (frame[["open", "high", "low", "close"]] * scale).round()
        frame["halted"] = (frame["open"] == 0) & (frame["high"] == 0) & (frame["low"] == 0)
        series.append(frame[["date", "open", "high", "low", "close", "volume", "halted"]])
    return series


def direct_talib(arrays: list[tuple[np.ndarray, ...]]) -> None:
    for h, lo, c, v in arrays:
        for n in (5, 20, 50, 60, 120, 150, 200):
            talib.SMA(c, n)
        talib.EMA(c, 12), talib.EMA(c, 26), talib.MACD(c, 12, 26, 9), talib.RSI(c, 14)
        talib.BBANDS(c, 20, 2, 2, 0), talib.STOCH(h, lo, c, 14, 3, 0, 3, 0), talib.ATR(h, lo, c, 14)
        talib.ADX(h, lo, c, 14), talib.PLUS_DI(h, lo, c, 14), talib.MINUS_DI(h, lo, c, 14), talib.OBV(c, v)
        talib.CCI(h, lo, c, 20), talib.MFI(h, lo, c, v, 14), talib.WILLR(h, lo, c, 14)
        talib.MAX(h, 252), talib.MIN(lo, 252), talib.MAX(c, 252), talib.MIN(c, 252), talib.SMA(v, 20)


def pandas_ta_subset(frames: list[pd.DataFrame]) -> None:
    import pandas_ta as ta

    for f in frames:
        f = f.loc[~f["halted"]].astype({"open": float, "high": float, "low": float, "close": float, "volume": float})
        ta.sma(f["close"], 20, talib=False), ta.ema(f["close"], 12, talib=False), ta.macd(f["close"], talib=False)
        ta.rsi(f["close"], 14, talib=False), ta.bbands(f["close"], 20, 2, talib=False)
        ta.stoch(f["high"], f["low"], f["close"], talib=False), ta.atr(f["high"], f["low"], f["close"], talib=False)
        ta.adx(f["high"], f["low"], f["close"], talib=False), ta.obv(f["close"], f["volume"], talib=False)
        ta.cci(f["high"], f["low"], f["close"], 20, talib=False)
        ta.mfi(f["high"], f["low"], f["close"], f["volume"], talib=False)


def best_of(runs: int, fn, *args) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    frames = universe()
    arrays = []
    for f in frames:
        t = f.loc[~f["halted"]]
        arrays.append(tuple(np.ascontiguousarray(t[k], dtype=float) for k in ("high", "low", "close", "volume")))
    long = pd.concat([f.assign(ticker=f"{i:06d}") for i, f in enumerate(frames)], ignore_index=True)
    ours = best_of(3, compute_many, long)
    direct = best_of(3, direct_talib, arrays)
    subset = frames[:50]
    pta = best_of(1, pandas_ta_subset, subset) * len(frames) / len(subset)
    tracemalloc.start()
    result = compute_many(long)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{len(frames)} tickers x {SESSIONS} sessions: {len(result)} rows x {len(result.columns)} columns")
    print(f"lib.analysis.indicators.compute_many  : {ours:6.3f} s  (halted days removed, one frame out)")
    print(f"TA-Lib called directly       : {direct:6.3f} s  (ratio {ours / direct:.2f}x, target <= 3x)")
    print(f"pandas-ta talib=False (11 of the indicators, extrapolated from 50 tickers): {pta:6.2f} s")
    print(f"peak Python memory while computing all tickers: {peak / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
