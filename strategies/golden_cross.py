"""Golden cross: the fast simple moving average crossed above the slow one within the last N sessions."""

from __future__ import annotations

import pandas as pd

from lib.analysis.screener import SmaPairParams, Strategy, crossed_above, within
from lib.display import money

Params = SmaPairParams


def signals(rows: pd.DataFrame, p: Params) -> pd.DataFrame:
    fast, slow = rows[f"sma_{p.fast}"], rows[f"sma_{p.slow}"]
    fired = within(crossed_above(fast, slow), p.within_days) & (fast > slow)
    return pd.DataFrame({"fired": fired, "score": (fast / slow - 1) * 100})


def reason(row: pd.Series, p: Params) -> str:
    return f"SMA{p.fast} {money(row[f'sma_{p.fast}'])} crossed above SMA{p.slow} {money(row[f'sma_{p.slow}'])}"


STRATEGY = Strategy(
    name="golden_cross",
    description="Fast SMA (20) crossed above slow SMA (60) within the last N sessions",
    params=Params, lookback=210, columns=("close", "sma_5", "sma_20", "sma_50", "sma_60", "sma_120"),
    signals=signals, reason=reason,
    score_meaning="how far the fast SMA is above the slow SMA, in %",
)
