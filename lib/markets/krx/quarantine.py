"""Impossible prices: a bar that KRX's trading rules do not allow is kept out of stock_data (quarantined, with
its reason), and a market answer made mostly of such bars is refused as corrupt. Pure: the write path (the KRX
collector's store, lib/markets/krx/market.py) calls `screen_days` once per batch, with what storage knows of each
ticker's last close.

The rules checked, KRX's own:
- A day's close, high and low stay within the daily price limit around the day's base price: +/-30% since
  2015-06-15 (+/-15% from 1998-12-07). The base price is KRX's when the source sends it (so an ex-date's new
  base explains a split), otherwise the previous close (an adjusted file).
- Open and close lie within the day's low..high (1% allowed for adjusted-price rounding).

Exceptions: a ticker's first stored bar has no reference (a listing day may trade up to 4x its offering
price); liquidation trading before a delisting has no limit, but KRX's daily table does not say which stocks
are in it, so those days are quarantined (they belong to stocks that are leaving the market).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lib.markets.krx.bars import bars_from_day
from lib.markets.krx.universe import is_common_stock
from lib.spine.quarantine import Held, PriorClose
from lib.spine.records import MarketDay

# (first day, limit): KRX's daily price limit as a share of the base price.
LIMITS = ((dt.date(1998, 12, 7), 0.15), (dt.date(2015, 6, 15), 0.30))
# Limit prices are truncated to the tick inside the band; adjusted files round. Neither reaches half a percent
# (the shared panel's largest excess is 0.15%), so this slack only keeps rounding from looking impossible.
SLACK = 0.005
# Below this many checked rows an answer is judged row by row: in a one- or few-stock file a genuine event (a
# consolidation without a base price) cannot be told from a corrupt answer, and refusing it would keep every
# later day of that stock out (each would be compared with the last stored close), where a quarantined bar is
# followed by the next day's confirmation.
MIN_ROWS_TO_REFUSE = 5
RANGE_TOLERANCE = 0.01  # the shared panel's closes stray at most 0.31% outside low..high (rounding)


def daily_limit(day: dt.date) -> float | None:
    """KRX's daily price limit on that day (0.30 since 2015-06-15), None before 1998-12-07 (not checked)."""
    limit = None
    for start, value in LIMITS:
        if day >= start:
            limit = value
    return limit


@dataclass(frozen=True)
class Refusal:
    """A market answer whose bars are mostly impossible: the answer, not the stocks, is wrong."""

    day: dt.date
    market: str
    impossible: int
    checked: int
    example: str

    @property
    def message(self) -> str:
        """One line saying what was refused and why."""
        return (
            f"{self.impossible} of {self.checked} checked rows break KRX's price rules (e.g. {self.example}): "
            "the answer looks corrupt and is not stored"
        )


@dataclass
class Screened:
    """What to store, what to quarantine, the answers refused, and the level shifts stored because the next
    day confirmed them."""

    kept: list[tuple[dt.date, list[MarketDay]]] = field(default_factory=list)
    quarantined: list[Held] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def _fmt(value: float) -> str:
    return f"{value:,.0f}"


@dataclass(frozen=True)
class _Day:
    """One market answer's common-stock rows as arrays."""

    index: np.ndarray
    tickers: list[str]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    base: np.ndarray
    halted: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Day:
        common = frame["ticker"].map(is_common_stock).to_numpy(dtype=bool)
        rows = frame.loc[common]

        def column(name: str) -> np.ndarray:
            return rows[name].to_numpy(dtype=np.float64, na_value=np.nan)

        return cls(rows.index.to_numpy(), rows["ticker"].tolist(), column("open"), column("high"), column("low"),
                   column("close"), column("base_price"), rows["halted"].to_numpy(dtype=bool))

    def outside(self, reference: np.ndarray, limit: float) -> np.ndarray:
        """True where the close (and, on a traded day, the high or low) leaves the limit band around reference."""
        with np.errstate(invalid="ignore"):
            low_band = reference * (1 - limit) * (1 - SLACK)
            high_band = reference * (1 + limit) * (1 + SLACK)
            out = (self.close < low_band) | (self.close > high_band)
            out |= ~self.halted & ((self.high > high_band) | (self.low < low_band))
        return out & ~np.isnan(reference)

    def range_bad(self) -> np.ndarray:
        """True where a traded day's open or close lies outside its own low..high (beyond rounding)."""
        with np.errstate(invalid="ignore"):
            high, low = self.high * (1 + RANGE_TOLERANCE), self.low * (1 - RANGE_TOLERANCE)
            bad = (self.low > high) | (self.close > high) | (self.close < low) | (self.open > high) | (self.open < low)
        return ~self.halted & bad


def _limit_reason(day: _Day, i: int, reference: float, basis: str, limit: float, on: dt.date) -> str:
    values = {"close": day.close[i]}
    if not day.halted[i]:
        values |= {"high": day.high[i], "low": day.low[i]}
    worst = max(values, key=lambda f: abs(values[f] / reference - 1))
    since = max(start for start, _ in LIMITS if start <= on)
    return (f"{worst} {_fmt(values[worst])} is {values[worst] / reference - 1:+.1%} from {basis} {_fmt(reference)}, "
            f"beyond KRX's daily limit of +/-{limit:.0%} (since {since})")


def _check_frame(
    frame: pd.DataFrame, on: dt.date, prior: Mapping[str, PriorClose]
) -> tuple[dict[Any, str], _Day, int, list[str]]:
    """(reason by frame index of each impossible row, the rows as arrays, how many were checkable, notes)."""
    day = _Day.of(frame)
    nothing = PriorClose(None)
    stored = np.array([prior.get(t, nothing).stored for t in day.tickers], dtype=np.float64)
    delivered = np.array([prior.get(t, nothing).delivered for t in day.tickers], dtype=np.float64)
    # A ticker's first bar (nothing stored or delivered before) may be its listing day, whose base price is
    # the offering price and whose range is 60%-400% of it: it is not held to the daily limit.
    first = np.isnan(stored) & np.isnan(delivered)
    has_base = ~np.isnan(day.base)
    reference = np.where(first, np.nan, np.where(has_base, day.base, stored))
    limit = daily_limit(on)
    reasons: dict[int, str] = {}
    notes: list[str] = []
    if limit is not None:
        beyond = day.outside(reference, limit)
        # Without a base price a genuine unexplained level shift would otherwise be quarantined forever: the day
        # after a quarantined bar is accepted when it is within the limit of that bar's close.
        confirmed = beyond & ~has_base & ~np.isnan(delivered) & (delivered != stored) & ~day.outside(delivered, limit)
        for i in np.flatnonzero(confirmed):
            notes.append(
                f"{day.tickers[i]} {on}: close {_fmt(day.close[i])} is beyond the limit from the last stored close "
                f"{_fmt(stored[i])} but within it from the quarantined close {_fmt(delivered[i])}: stored (a level "
                "shift without a base price to explain it)"
            )
        for i in np.flatnonzero(beyond & ~confirmed):
            basis = "the base price" if has_base[i] else "the previous close"
            reasons[i] = _limit_reason(day, i, float(reference[i]), basis, limit, on)
    for i in np.flatnonzero(day.range_bad()):
        text = (f"close {_fmt(day.close[i])} or open {_fmt(day.open[i])} lies outside the day's range "
                f"{_fmt(day.low[i])}-{_fmt(day.high[i])}")
        reasons[i] = f"{reasons[i]}; {text}" if i in reasons else text
    checkable = int((~np.isnan(reference) | ~day.halted).sum())
    return {day.index[i]: reasons[i] for i in sorted(reasons)}, day, checkable, notes


def screen_days(
    days: Iterable[tuple[dt.date, list[MarketDay]]], prior: Mapping[str, PriorClose]
) -> Screened:
    """Split validated market days (oldest first) into the bars to store and the bars to quarantine.

    A market answer of at least MIN_ROWS_TO_REFUSE checked rows in which more than half are impossible is
    refused as a whole: none of its rows is kept or quarantined (`refused` says why), and the days after it are
    checked as if it had not been delivered."""
    state = dict(prior)
    out = Screened()
    for on, answers in days:
        kept: list[MarketDay] = []
        held: list[Held] = []
        updates: dict[str, PriorClose] = {}
        for answer in answers:
            frame = answer.frame
            reasons, rows, checkable, notes = _check_frame(frame, on, state)
            if reasons and checkable >= MIN_ROWS_TO_REFUSE and len(reasons) * 2 > checkable:
                first = next(iter(reasons))
                example = f"{frame.at[first, 'ticker']}: {reasons[first]}"
                out.refused.append(Refusal(on, str(frame["market"].iloc[0]), len(reasons), checkable, example))
                continue
            out.confirmed.extend(notes)
            clean = answer
            if reasons:
                documents = bars_from_day(frame.loc[list(reasons)], on, answer.source)
                for i, reason in reasons.items():
                    ticker = frame.at[i, "ticker"]
                    held.append(Held(ticker, on, str(frame.at[i, "market"]), documents[ticker], reason))
                clean = answer.with_frame(frame.drop(index=list(reasons)))
            kept.append(clean)
            for i, ticker, close in zip(rows.index, rows.tickers, rows.close, strict=True):
                before = state.get(ticker, PriorClose(None))
                updates[ticker] = PriorClose(before.stored if i in reasons else float(close), float(close))
        state.update(updates)
        out.kept.append((on, kept))
        out.quarantined.extend(held)
    return out
