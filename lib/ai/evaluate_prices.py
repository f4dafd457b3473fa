"""The adjusted closes the evaluation scores predictions with: every stored ticker on every session of a range,
read once, so each (prediction day, end day) pair's universe returns are one vectorised step (issue 16).

Prices are back-adjusted with the corporate actions derived from the stored bars themselves (the analysis's own
lib/analysis/corporate_actions.py), so a split or a rights issue between the two days makes no fake return. An
action on day t depends only on bars up to t, so the adjustment over (day, end] is what was knowable at the end
session: point in time. A session without a bar of a ticker (suspended with no row, delisted, quarantined) carries
its last stored close forward."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.analysis.corporate_actions import cumulative_factors, derive_actions, numbers
from lib.storage import Storage


@dataclass(frozen=True)
class Forward:
    """A stock's forward return between two sessions and the universe's median over the same two sessions."""

    forward_return: float | None  # fraction (0.012 = 1.2 %); None when the stock has no close on or before day
    median_return: float | None  # None when no stock had a bar on the day
    universe: int  # stocks with a bar on the prediction day (and a close at the end): the median's population
    priced_day: dt.date | None  # the day of the close used at the end (before `end` for a stock without a bar)


class AdjustedCloses:
    """Sessions x tickers of back-adjusted closes (carried forward over missing bars) and which bars exist."""

    def __init__(self, sessions: list[dt.date], tickers: list[str], closes: np.ndarray, has_bar: np.ndarray,
                 bar_day: np.ndarray) -> None:
        self.sessions = sessions
        self.tickers = tickers
        self.column = {t: i for i, t in enumerate(tickers)}
        self.closes = closes  # float, NaN before a ticker's first bar
        self.has_bar = has_bar  # bool: a stored bar on that very session
        self.bar_day = bar_day  # index of the session of the close used (-1: none yet)
        self._row = {d: i for i, d in enumerate(sessions)}
        self._pairs: dict[tuple[dt.date, dt.date], tuple[np.ndarray, float | None, int]] = {}

    @classmethod
    def read(cls, storage: Storage, sessions: list[dt.date]) -> AdjustedCloses:
        """Every stored ticker's bars over `sessions` (one read per ticker), adjusted as the analysis adjusts."""
        tickers = storage.bars.stored_tickers()
        held: dict[str, list[tuple[object, float]]] = {}
        for doc in storage.bad_data.quarantined():  # KRX's next base price refers to a held bar's close
            held.setdefault(doc["ticker"], []).append((doc["date"], float(doc["bar"]["close"])))
        stamps = pd.to_datetime(pd.Series(sessions)).to_numpy(dtype="datetime64[ns]")
        closes = np.full((len(sessions), len(tickers)), np.nan)
        has_bar = np.zeros((len(sessions), len(tickers)), dtype=bool)
        for column, ticker in enumerate(tickers):
            rows = storage.bars.read_bars(ticker, sessions[0], sessions[-1], fields=("close", "base_price"))
            if not rows:
                continue
            bars = pd.DataFrame(rows)
            bars["date"] = pd.to_datetime(bars["date"])
            actions = derive_actions(ticker, bars, held.get(ticker, ()), sessions)
            adjusted = numbers(bars, "close") * cumulative_factors(bars["date"], actions)
            at = np.searchsorted(stamps, bars["date"].to_numpy(dtype="datetime64[ns]"))
            on_session = (at < len(sessions)) & (stamps[np.minimum(at, len(sessions) - 1)]
                                                 == bars["date"].to_numpy(dtype="datetime64[ns]"))
            good = on_session & np.isfinite(adjusted) & (adjusted > 0)
            closes[at[good], column] = adjusted[good]
            has_bar[at[good], column] = True
        index = np.where(has_bar, np.arange(len(sessions))[:, None], -1)
        bar_day = np.maximum.accumulate(index, axis=0)  # the last session with a bar, at or before each row
        filled = np.take_along_axis(closes, np.maximum(bar_day, 0), axis=0)
        filled[bar_day < 0] = np.nan
        return cls(sessions, tickers, filled, has_bar, bar_day)

    def _row_of(self, day: dt.date) -> int:
        """The row of `day`, or of the last session before it (a prediction made on a closed day)."""
        if day in self._row:
            return self._row[day]
        return int(np.searchsorted(np.array(self.sessions), day, side="right")) - 1

    def _universe(self, day: dt.date, end: dt.date) -> tuple[np.ndarray, float | None, int]:
        """Every ticker's return from day to end, the median of those with a bar on `day`, and how many; once
        per pair."""
        key = (day, end)
        if key not in self._pairs:
            start, stop = self._row_of(day), self._row_of(end)
            with np.errstate(invalid="ignore", divide="ignore"):
                returns = self.closes[stop] / self.closes[start] - 1 if start >= 0 else np.full(len(self.tickers),
                                                                                                 np.nan)
            members = (self.has_bar[start] if start >= 0 else np.zeros(len(self.tickers), bool)) \
                & np.isfinite(returns)
            median = float(np.median(returns[members])) if members.any() else None
            self._pairs[key] = (returns, median, int(members.sum()))
        return self._pairs[key]

    def forward(self, ticker: str, day: dt.date, end: dt.date) -> Forward:
        """The stock's return from its close on (or last before) `day` to its close on (or last before) `end`."""
        returns, median, count = self._universe(day, end)
        column = self.column.get(ticker)
        stop = self._row_of(end)
        if column is None or not np.isfinite(returns[column]):
            return Forward(None, median, count, None)
        priced = self.bar_day[stop, column]
        return Forward(float(returns[column]), median, count, self.sessions[priced])
