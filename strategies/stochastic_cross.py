"""Stochastic cross: slow %K crossed above %D while both were in the oversold zone."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, Field

from lib.analysis.screener import Strategy, crossed_above


class Params(BaseModel):
    oversold: float = Field(20.0, ge=1, le=50, description="both lines below this level at the cross")


def signals(rows: pd.DataFrame, p: Params) -> pd.DataFrame:
    k, d = rows["stoch_k"], rows["stoch_d"]
    fired = crossed_above(k, d) & (d < p.oversold) & (k.shift(1) < p.oversold)
    return pd.DataFrame({"fired": fired, "score": k - d})


def reason(row: pd.Series, p: Params) -> str:
    return f"stochastic %K {row['stoch_k']:.1f} crossed above %D {row['stoch_d']:.1f} below {p.oversold:g}"


STRATEGY = Strategy(
    name="stochastic_cross",
    description="Slow stochastic %K (14/3/3) crossed above %D in the oversold zone (below 20)",
    params=Params, lookback=30, columns=("close", "stoch_k", "stoch_d"), signals=signals, reason=reason,
    score_meaning="%K minus %D, in points",
)
