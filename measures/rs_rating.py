"""Relative strength rating, the common reading of IBD's: each stock's weighted 3/6/9/12-month return (weights
0.4, 0.2, 0.2, 0.2) ranked 1-99 across every stock collected that day, not only the analysed universe.

rs_rating = 1 + round(98 * (stocks with a lower weighted return) / (stocks ranked - 1)), so the weakest is 1
and the strongest 99; ties share the lower rating. A stock is ranked on a day it traded and that has a close
252 sessions earlier (a year of history); others get no rating that day. rs_return is the weighted return."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.analysis.cross_section import MarketPanel, Measure

# (sessions back, weight): 3, 6, 9 and 12 months of KRX sessions.
PERIODS = ((63, 0.4), (126, 0.2), (189, 0.2), (252, 0.2))


def weighted_return(close: pd.DataFrame) -> pd.DataFrame:
    """0.4 x the 3-month return + 0.2 x each of the 6-, 9- and 12-month returns, per ticker and day."""
    return sum(weight * (close / close.shift(sessions) - 1) for sessions, weight in PERIODS)


def rating(scores: pd.DataFrame) -> pd.DataFrame:
    """Each day's scores as ratings 1-99 by the share of that day's stocks with a lower score."""
    below = scores.rank(axis=1, method="min") - 1
    ranked = scores.notna().sum(axis=1)
    share = below.div((ranked - 1).where(ranked > 1), axis=0)  # a day with one stock ranks nobody
    return np.floor(1 + 98 * share + 0.5)


def compute(panel: MarketPanel) -> dict[str, pd.DataFrame]:
    scores = weighted_return(panel.close).where(panel.traded)
    return {"rs_rating": rating(scores), "rs_return": scores}


MEASURE = Measure(
    name="rs_rating",
    description="Relative strength 1-99: weighted 3/6/9/12-month return ranked across the whole collected market",
    columns=("rs_rating", "rs_return"),
    lookback=252,
    compute=compute,
)
