"""Corporate actions from the exchange's own numbers, and the back-adjusted series the analysis computes on.

KRX publishes each day's base price (the close minus CMPPREVDD_PRC): the previous close, except on an
ex-date (a split, a reverse split, the ex-rights day of a rights offering, bonus issue or stock dividend),
where KRX sets it to the theoretical price after the event. Its ratio to the previous close is the
adjustment factor. stock_data keeps the bars as delivered; like zipline's adjustments, the factors are kept
apart and applied when reading: every price before an ex-date is multiplied by the factor, every volume
divided by it. Pure functions; derived from stored bars only (no source is asked).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

ADJUSTED_PRICES = ("open", "high", "low", "close")
# A split or reverse split changes the listed shares on its ex-date by the inverse of the factor; a rights
# offering, bonus issue or stock dividend lowers the base price first and lists the new shares weeks later.
SHARES_TOLERANCE = 0.02


def _kind(factor: float, shares_before: float, shares_after: float) -> str | None:
    if not (shares_before > 0 and shares_after > 0):
        return None
    ratio = shares_after / shares_before
    if abs(ratio * factor - 1) <= SHARES_TOLERANCE and ratio != 1:
        return "split" if factor < 1 else "reverse_split"
    if ratio == 1 and factor < 1:
        return "ex_rights"
    return None


def _price(value: float) -> int | float:
    """A price as stored with an action: whole won as an int (KRX), cents and beyond kept (a US base price,
    previous close / split ratio, is 120.888)."""
    return int(value) if float(value).is_integer() else round(float(value), 6)


def numbers(bars: pd.DataFrame, name: str) -> np.ndarray:
    """A column as float64 (null and missing as NaN)."""
    if name not in bars:
        return np.full(len(bars), np.nan)
    values = bars[name]
    if values.dtype.kind not in "biuf":
        values = pd.to_numeric(values, errors="coerce")
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def dates_of(bars: pd.DataFrame) -> np.ndarray:
    """The `date` column as datetime64[ns]."""
    values = bars["date"]
    if values.dtype.kind != "M":
        values = pd.to_datetime(values)
    return values.to_numpy(dtype="datetime64[ns]")


def derive_actions(
    ticker: str,
    bars: pd.DataFrame,
    quarantined: Iterable[tuple[Any, float]] = (),
    sessions: Iterable[dt.date] | None = None,
) -> list[dict[str, Any]]:
    """The corporate actions in a ticker's stored bars (`date`, `close`, `base_price`, optional `shares`):
    one per bar whose base price differs from the previous close, with its factor (base / previous close)
    and kind when the listed shares tell it (split, reverse_split, ex_rights), or the bar's own split ratio
    (`splits`, as Yahoo sends it: US stocks store base_price = previous close / ratio on a split day), else None.

    The previous close is the previous *delivered* bar's: a quarantined bar's close (`quarantined`, as
    (date, close)) counts, since KRX's base price refers to it. With `sessions` (the trading calendar), no
    factor is derived across a session of which no bar is known: the base price would refer to a close we
    never saw."""
    if bars.empty:
        return []
    dates = dates_of(bars)
    frame = bars
    if not (dates[1:] >= dates[:-1]).all():
        order = np.argsort(dates, kind="stable")
        frame, dates = bars.iloc[order].reset_index(drop=True), dates[order]
    closes = numbers(frame, "close")
    held = [(np.datetime64(pd.Timestamp(d), "ns"), float(c)) for d, c in quarantined]
    all_dates, all_closes = dates, closes
    if held:
        # every delivered close in date order (stored bars and quarantined ones), to find each bar's predecessor
        all_dates = np.concatenate([dates, np.array([d for d, _ in held], dtype=dates.dtype)])
        all_closes = np.concatenate([closes, np.array([c for _, c in held], dtype=np.float64)])
        order = np.argsort(all_dates, kind="stable")
        all_dates, all_closes = all_dates[order], all_closes[order]
    position = np.searchsorted(all_dates, dates, side="left")
    previous = np.where(position > 0, all_closes[np.maximum(position - 1, 0)], np.nan)
    previous_dates = np.where(position > 0, all_dates[np.maximum(position - 1, 0)], np.datetime64("NaT"))
    base = numbers(frame, "base_price")
    candidates = np.flatnonzero(np.isfinite(base) & (base > 0) & np.isfinite(previous) & (previous > 0)
                                & (base != previous))
    known = sorted(sessions) if sessions is not None else None
    shares = numbers(frame, "shares")
    ratios = numbers(frame, "splits")
    actions: list[dict[str, Any]] = []
    for i in candidates:
        day = pd.Timestamp(dates[i])
        before = pd.Timestamp(previous_dates[i])
        if known is not None and _gap(known, before.date(), day.date()):
            continue
        factor = float(base[i] / previous[i])
        shares_before = shares[i - 1] if i > 0 else np.nan
        actions.append({
            "ticker": ticker,
            "date": day.to_pydatetime(),
            "factor": factor,
            "kind": _kind(factor, shares_before, shares[i]) or _split_kind(ratios[i]),
            "base_price": _price(base[i]),
            "previous_close": _price(previous[i]),
            "previous_date": before.to_pydatetime(),
            "shares_before": None if np.isnan(shares_before) else int(shares_before),
            "shares_after": None if np.isnan(shares[i]) else int(shares[i]),
        })
    return actions


def _split_kind(ratio: float) -> str | None:
    """The kind a bar's own split ratio (new shares per old) says: more shares a split, fewer a reverse split."""
    if not np.isfinite(ratio) or ratio <= 0 or ratio == 1:
        return None
    return "split" if ratio > 1 else "reverse_split"


def _gap(sessions: list[dt.date], before: dt.date, day: dt.date) -> bool:
    """True when a session lies strictly between the two days."""
    return bisect.bisect_right(sessions, before) < bisect.bisect_left(sessions, day)


def cumulative_factors(dates: Iterable[Any], actions: Iterable[dict[str, Any]]) -> np.ndarray:
    """For each date, the product of the factors of every action strictly after it (1 on and after the last)."""
    stamps = np.asarray(dates, dtype="datetime64[ns]")
    out = np.ones(len(stamps))
    for action in actions:
        out[stamps < np.datetime64(pd.Timestamp(action["date"]))] *= action["factor"]
    return out


def back_adjust(bars: pd.DataFrame, actions: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The bars with every price before each ex-date multiplied by its factor and every volume divided by it
    (traded value and market cap, in KRW, unchanged). Without actions, the bars themselves."""
    actions = list(actions)
    if not actions:
        return bars
    factors = cumulative_factors(dates_of(bars), actions)
    changed = {name: numbers(bars, name) * factors for name in ADJUSTED_PRICES if name in bars}
    if "volume" in bars:
        changed["volume"] = numbers(bars, "volume") / factors
    return bars.assign(**changed)
