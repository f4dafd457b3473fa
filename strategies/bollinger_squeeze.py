"""Bollinger squeeze: the band width (upper - lower) / middle is at its narrowest of the last N sessions."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, Field

from lib.analysis.screener import Strategy


class Params(BaseModel):
    window: int = Field(120, ge=20, le=250, description="sessions the band width is compared over")
    tolerance: float = Field(1.05, ge=1.0, le=1.5, description="within this factor of the window's narrowest")


def signals(rows: pd.DataFrame, p: Params) -> pd.DataFrame:
    width = (rows["bb_upper"] - rows["bb_lower"]) / rows["bb_middle"]
    narrowest = width.rolling(p.window, min_periods=p.window).min()
    fired = width <= narrowest * p.tolerance
    return pd.DataFrame({"fired": fired, "score": -width * 100})


def reason(row: pd.Series, p: Params) -> str:
    width = (row["bb_upper"] - row["bb_lower"]) / row["bb_middle"] * 100
    return f"Bollinger band width {width:.1f}% is the narrowest of {p.window} sessions"


STRATEGY = Strategy(
    name="bollinger_squeeze",
    description="Bollinger band width at (or within 5% of) its narrowest of the last 120 sessions",
    params=Params, lookback=250, columns=("close", "bb_upper", "bb_middle", "bb_lower"),
    signals=signals, reason=reason,
    score_meaning="minus the band width in % of the middle band (nearer 0 is wider; more negative is tighter)",
)
