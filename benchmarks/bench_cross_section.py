"""Benchmark: one day's cross-sectional step over a whole market (2,300 tickers x 300 sessions, about KOSPI +
KOSDAQ's common stocks): corporate actions derived and applied per ticker, the wide panel built, every measure
computed; next to a baseline measured in the same run: the same weighted returns and ratings in plain NumPy
on a ready-made array (the least any implementation must do). Prints figures; asserts nothing.

    ./dev bench cross_section
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lib.analysis.cross_section import adjusted_bars, compute_measures, discover_measures, market_panel  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "krx_sample.parquet"
TICKERS, SESSIONS = 2300, 300
PERIODS = ((63, 0.4), (126, 0.2), (189, 0.2), (252, 0.2))


def market() -> list[tuple[str, pd.DataFrame]]:
    """2,300 real 300-session series (the sample's common stocks, repeated with scaled prices), as stored bars
    with a base price; every tenth series has a 2:1 split in the middle."""
    panel = pd.read_parquet(SAMPLE)
    panel = panel.loc[panel["ticker"].str.endswith("0")]
    days = sorted(panel["date"].unique())[-SESSIONS:]
    panel = panel.loc[panel["date"].isin(days)].assign(date=lambda f: pd.to_datetime(f["date"]))
    base = [g.reset_index(drop=True) for _, g in panel.groupby("ticker")]
    out = []
    for i in range(TICKERS):
        frame = base[i % len(base)].copy()
        scale = 1 + (i // len(base)) * 0.013
        frame[["open", "high", "low", "close"]] = (frame[["open", "high", "low", "close"]] * scale).round()
        frame["halted"] = (frame["open"] == 0) & (frame["high"] == 0) & (frame["low"] == 0)
        frame["base_price"] = frame["close"].shift(1)
        if i % 10 == 0:
            half = SESSIONS // 2
            frame.loc[half:, ["open", "high", "low", "close"]] = (frame.loc[half:, ["open", "high", "low", "close"]]
                                                                  / 2).round()
            frame.loc[half + 1 :, "base_price"] = frame["close"].shift(1)
            frame.loc[half, "base_price"] = frame.loc[half - 1, "close"] / 2
        out.append((f"{i:06d}", frame))
    return out


def ours(series: list[tuple[str, pd.DataFrame]]) -> tuple[dict[str, pd.DataFrame], int]:
    actions = 0
    adjusted = []
    for ticker, bars in series:
        frame, found = adjusted_bars(ticker, bars)
        actions += len(found)
        adjusted.append((ticker, frame))
    return compute_measures(discover_measures(), market_panel(adjusted)), actions


def numpy_baseline(close: np.ndarray, traded: np.ndarray) -> np.ndarray:
    score = np.zeros_like(close)
    for lag, weight in PERIODS:
        shifted = np.full_like(close, np.nan)
        shifted[lag:] = close[:-lag]
        score += weight * (close / shifted - 1)
    score[~traded] = np.nan
    order = np.argsort(np.argsort(np.where(np.isnan(score), np.inf, score), axis=1), axis=1)
    count = (~np.isnan(score)).sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isnan(score), np.nan, np.floor(1 + 98 * order / (count - 1) + 0.5))


def main() -> int:
    series = market()
    start = time.perf_counter()
    values, actions = ours(series)
    seconds = time.perf_counter() - start
    # the baseline starts from the adjusted closes already laid out as one array
    wide = pd.DataFrame({t: f.set_index("date")["close"] for t, f in ((t, adjusted_bars(t, f)[0]) for t, f in series)})
    traded = pd.DataFrame({t: ~f.set_index("date")["halted"] for t, f in series}).to_numpy()
    close = wide.to_numpy(dtype=float)
    start = time.perf_counter()
    numpy_baseline(close, traded)
    base = time.perf_counter() - start
    tracemalloc.start()
    ours(series)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rated = int(values["rs_rating"].iloc[-1].notna().sum())
    print(f"{TICKERS} tickers x {SESSIONS} sessions: {actions} corporate actions derived, {rated} stocks rated "
          "on the last day")
    print(f"cross-section step (actions, back-adjustment, panel, every measure): {seconds:6.2f} s")
    print(f"NumPy baseline (weighted returns and ratings on a ready array)   : {base:6.3f} s")
    print(f"peak Python memory of the step: {peak / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
