"""Cross-sectional measures: values that rank or compare a stock against the whole collected market on each
day (rs_rating first), where strategies see one ticker at a time.

A measure is a file in measures/ declaring `MEASURE = Measure(name, description, columns, lookback, compute)`;
`compute(panel)` is pure and causal: from a MarketPanel (every stored ticker's back-adjusted bars, one row per
session and one column per ticker) it returns one wide frame per declared column, where a value on a day uses
only that day and earlier rows. The registry is discovered from the folder like strategies/; a broken module
is logged and skipped. The analysis computes every measure before any ticker of a day is analysed and merges
the values into each ticker's stock_analyzed rows, so strategies read them as ordinary columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from lib.analysis.corporate_actions import back_adjust, dates_of, derive_actions, numbers
from lib.analysis.indicators import INDICATOR_COLUMNS, PRICE_COLUMNS, traded_mask
from lib.plugins import SNAKE_CASE, Kind, Registry, by_name

PANEL_FIELDS = ("close", "high", "low", "volume", "value", "market_cap")
BAR_FIELDS = ("open", "high", "low", "close", "volume", "value", "market_cap", "shares", "halted", "base_price",
              "splits")


@dataclass(frozen=True)
class MarketPanel:
    """Every stored ticker's back-adjusted daily bars over a run of sessions, wide: a row per session (oldest
    first), a column per ticker. A value is NaN before a ticker's first bar and after its last; a halted day
    keeps its close (KRX's) and `traded` is False on it."""

    close: pd.DataFrame
    high: pd.DataFrame
    low: pd.DataFrame
    volume: pd.DataFrame
    value: pd.DataFrame
    market_cap: pd.DataFrame
    traded: pd.DataFrame


Compute = Callable[[MarketPanel], Mapping[str, pd.DataFrame]]


@dataclass(frozen=True)
class Measure:
    """What a measure module declares as MEASURE. `columns` are the row columns it adds (each a float per
    ticker and traded day, NaN where undefined); `lookback` is the sessions of history a value needs."""

    name: str
    description: str
    columns: tuple[str, ...]
    lookback: int
    compute: Compute


RESERVED = frozenset(("date", "ticker", *PRICE_COLUMNS, *INDICATOR_COLUMNS))


def _check(measure: Measure) -> None:
    if not measure.columns or not all(SNAKE_CASE.fullmatch(c) for c in measure.columns):
        raise ValueError("columns must be snake_case names")
    taken = set(measure.columns) & RESERVED
    if taken:
        raise ValueError(f"columns {sorted(taken)} are already prices or indicators")
    if measure.lookback < 0:
        raise ValueError("lookback must not be negative")


# A column belongs to one measure: the first module (by name) keeps it, a later one declaring it is skipped.
MEASURES = Kind("measure", "MEASURE", Measure, "measures", _check, claims=lambda m: m.columns)


class MeasureRegistry(Registry[Measure]):
    """Measures by name (read-only) and the modules that were skipped, with why."""

    kind = MEASURES

    measures = by_name()  # the name callers used before the registry was shared

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the measures add, in registry order."""
        return tuple(c for m in self for c in m.columns)

    @property
    def lookback(self) -> int:
        """The longest history any measure needs, in sessions."""
        return max((m.lookback for m in self), default=0)


discover_measures = MeasureRegistry.discover


@cache
def measure_columns() -> frozenset[str]:
    """The columns of the shipped measures (measures/), which strategies may read like indicators."""
    return frozenset(discover_measures().columns)


# --- the market panel --------------------------------------------------------------------------------


def adjusted_bars(
    ticker: str,
    bars: pd.DataFrame,
    quarantined: Iterable[tuple[Any, float]] = (),
    sessions: Iterable[Any] | None = None,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """A ticker's bars back-adjusted with the corporate actions derived from them, and those actions."""
    actions = derive_actions(ticker, bars, quarantined, sessions)
    return back_adjust(bars, actions), actions


def market_panel(series: Iterable[tuple[str, pd.DataFrame]]) -> MarketPanel:
    """The wide panel of (ticker, back-adjusted bars) pairs; gaps inside a ticker's life (a quarantined bar)
    carry its last value, so a hole is never read as a price of zero."""
    tickers: list[str] = []
    parts: list[tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]] = []
    for ticker, bars in series:
        if bars.empty:
            continue
        tickers.append(ticker)
        parts.append((dates_of(bars), {name: numbers(bars, name) for name in PANEL_FIELDS}, traded_mask(bars)))
    index = np.unique(np.concatenate([p[0] for p in parts])) if parts else np.array([], dtype="datetime64[ns]")
    shape = (len(index), len(tickers))
    blocks = {name: np.full(shape, np.nan) for name in PANEL_FIELDS}
    traded = np.zeros(shape, dtype=bool)
    for j, (dates, fields, mask) in enumerate(parts):
        rows = np.searchsorted(index, dates)
        for name, values in fields.items():
            blocks[name][rows, j] = values
        traded[rows, j] = mask
    sessions = pd.DatetimeIndex(index)
    frames = {}
    for name, block in blocks.items():
        frame = pd.DataFrame(block, index=sessions, columns=tickers)
        frames[name] = frame.ffill().where(frame.bfill().notna())
    return MarketPanel(**frames, traded=pd.DataFrame(traded, index=sessions, columns=tickers))


def compute_measures(registry: MeasureRegistry, panel: MarketPanel) -> dict[str, pd.DataFrame]:
    """Every measure's columns over the panel, kept only where the ticker traded (NaN elsewhere)."""
    out: dict[str, pd.DataFrame] = {}
    for measure in registry:
        values = measure.compute(panel)
        for column in measure.columns:
            frame = values[column].reindex(index=panel.close.index, columns=panel.close.columns)
            out[column] = frame.astype("float64").where(panel.traded)
    return out


def values_by_ticker(values: Mapping[str, pd.DataFrame], days: Iterable[Any]) -> dict[str, dict[str, dict[str, float]]]:
    """Measure values on `days` as {ticker: {"YYYY-MM-DD": {column: value}}}, plain floats, NaN left out."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    wanted = pd.DatetimeIndex(pd.to_datetime(list(days)))
    for column, frame in values.items():
        part = frame.loc[frame.index.intersection(wanted)]
        stacked = part.stack(future_stack=True).dropna()
        for (stamp, ticker), value in stacked.items():
            out.setdefault(str(ticker), {}).setdefault(f"{stamp:%Y-%m-%d}", {})[column] = float(value)
    return out
