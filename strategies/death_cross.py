"""Death cross: the fast simple moving average crossed below the slow one within the last N sessions."""

from __future__ import annotations

import pandas as pd

from lib.analysis.screener import SmaPairParams, Strategy, crossed_above, within
from lib.display import money

Params = SmaPairParams


def signals(rows: pd.DataFrame, p: Params) -> pd.DataFrame:
    fast, slow = rows[f"sma_{p.fast}"], rows[f"sma_{p.slow}"]
    fired = within(crossed_above(slow, fast), p.within_days) & (fast < slow)
    return pd.DataFrame({"fired": fired, "score": (1 - fast / slow) * 100})


def reason(row: pd.Series, p: Params) -> str:
    return f"SMA{p.fast} {money(row[f'sma_{p.fast}'])} crossed below SMA{p.slow} {money(row[f'sma_{p.slow}'])}"


STRATEGY = Strategy(
    name="death_cross",
    description="Fast SMA (20) crossed below slow SMA (60) within the last N sessions: a warning, not a buy",
    params=Params, lookback=210, columns=("close", "sma_5", "sma_20", "sma_50", "sma_60", "sma_120"),
    signals=signals, reason=reason,
    score_meaning="how far the fast SMA is below the slow SMA, in %",
)
