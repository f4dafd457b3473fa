"""Screener strategies: a read-only registry discovered from strategies/, picks on any stored day, and each
strategy's track record (forward returns of its past picks against the universe's average)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, ValidationError, model_validator

from lib.analysis.cross_section import measure_columns
from lib.analysis.indicators import INDICATOR_COLUMNS, PRICE_COLUMNS, as_frame
from lib.errors import ConfigError
from lib.log import get_logger
from lib.plugins import Kind, by_name, require_model
from lib.plugins import Registry as PluginRegistry
from lib.spine.calendar import TradingCalendar
from lib.storage import Storage

log = get_logger("screener")
KNOWN_COLUMNS = frozenset((*PRICE_COLUMNS, *INDICATOR_COLUMNS))
HORIZONS = (5, 10, 20)

Signals = Callable[[pd.DataFrame, Any], pd.DataFrame]
Reason = Callable[[pd.Series, Any], str]


@dataclass(frozen=True)
class Strategy:
    """What a strategy module declares as STRATEGY.

    `signals(rows, params)` is pure: from one ticker's indicator rows (oldest first) it returns a frame on the
    same index with `fired` (bool) and `score` (float, larger is stronger), using only each row's past.
    `reason(row, params)` says in words why a row fired; `columns` are the values shown with a pick;
    `score_meaning` says what the score measures, with its unit (scores are on each strategy's own scale)."""

    name: str
    description: str
    params: type[BaseModel]
    lookback: int
    columns: tuple[str, ...]
    signals: Signals
    reason: Reason
    score_meaning: str = ""

    def parse_params(self, values: Mapping[str, Any] | None = None) -> BaseModel:
        """Typed, bounded parameters; a bad value or an unknown name is a ConfigError naming the parameter."""
        # Here, not in each Params model, so every strategy refuses extras whatever its model_config says.
        unknown = sorted(set(values or {}) - set(self.params.model_fields))
        if unknown:
            takes = ", ".join(self.params.model_fields) or "none"
            raise ConfigError(f"strategy {self.name}: unknown parameter {unknown[0][:40]!r}; it takes: {takes}")
        try:
            return self.params(**(values or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"strategy {self.name}: parameter {where}: {first['msg']}") from None


@dataclass(frozen=True)
class Pick:
    """A stock a strategy picked on a day."""

    ticker: str
    date: dt.date
    score: float
    values: dict[str, float | None]
    reason: str
    change: float | None = None  # the day's close against the previous analysed row's, a fraction


def _check(strategy: Strategy) -> None:
    require_model(strategy.params, "params")
    missing = [n for n, f in strategy.params.model_fields.items() if f.is_required()]
    if missing:
        raise ValueError(f"parameters without defaults: {missing}")
    strategy.params()
    if strategy.lookback < 1:
        raise ValueError("lookback must be at least 1 session")
    # measure_columns() is read at check time (cached): a strategy may read any shipped measure's columns.
    unknown = set(strategy.columns) - KNOWN_COLUMNS - measure_columns()
    if unknown:
        raise ValueError(f"unknown columns {sorted(unknown)}")


STRATEGIES = Kind("strategy", "STRATEGY", Strategy, "strategies", _check)


class Registry(PluginRegistry[Strategy]):
    """Strategies by name (read-only) and the modules that were skipped, with why."""

    kind = STRATEGIES

    strategies = by_name()  # the name callers used before the registry was shared


discover = Registry.discover


# --- helpers for strategy authors --------------------------------------------------------------------

SmaPeriod = Literal[5, 20, 50, 60, 120, 150, 200]


class SmaPairParams(BaseModel):
    """Parameters of a cross between two stored simple moving averages."""

    fast: SmaPeriod = Field(20, description="fast SMA period")
    slow: SmaPeriod = Field(60, description="slow SMA period")
    within_days: int = Field(3, ge=1, le=20, description="sessions in which the cross may have happened")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaPairParams:
        if self.fast >= self.slow:
            raise ValueError("fast must be shorter than slow")
        return self



def crossed_above(a: pd.Series, b: pd.Series) -> pd.Series:
    """True on the row where a moves from at or below b to above it."""
    return (a > b) & (a.shift(1) <= b.shift(1))


def within(flags: pd.Series, days: int) -> pd.Series:
    """True where flags was true on this row or one of the days-1 rows before it."""
    return flags.fillna(False).astype(float).rolling(days, min_periods=1).max().astype(bool)


# --- running strategies ------------------------------------------------------------------------------


def _by_ticker(rows: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    rows = rows.sort_values(["ticker", "date"], kind="stable")
    for ticker, group in rows.groupby("ticker", sort=False):
        yield str(ticker), group.reset_index(drop=True)


def _signals(strategy: Strategy, frame: pd.DataFrame, params: BaseModel) -> pd.DataFrame:
    out = strategy.signals(frame, params)
    return pd.DataFrame({"fired": out["fired"].fillna(False).astype(bool), "score": out["score"].astype(float)})


def picks_on(strategy: Strategy, params: BaseModel, rows: pd.DataFrame, day: dt.date) -> list[Pick]:
    """The stocks that fire on `day`, strongest first, from the rows of the lookback window up to that day."""
    stamp = pd.Timestamp(day)
    return _ranked(_pick_of(strategy, params, ticker, frame, stamp)
                   for ticker, frame in _by_ticker(rows.loc[pd.to_datetime(rows["date"]) <= stamp]))


def screen_history(
    strategy: Strategy, params: BaseModel, frames: Iterable[pd.DataFrame], day: dt.date
) -> tuple[list[Pick], dict[str, Any]]:
    """The picks of `day` and the track record as of it, from per-ticker frames (each with `ticker`, up to
    `day`) with the signals computed once per ticker over its history, as the analysis job computes the stored
    picks: a custom screen with the default parameters answers what the stored picks say."""
    stamp = pd.Timestamp(day)
    picks: list[Pick] = []

    def pick(_: int, frame: pd.DataFrame, out: pd.DataFrame) -> None:
        if frame.empty or pd.Timestamp(frame["date"].iloc[-1]) != stamp or not out["fired"].iloc[-1]:
            return
        row, score = frame.iloc[-1], out["score"].iloc[-1]
        values = {c: (None if pd.isna(row[c]) else float(row[c])) for c in strategy.columns}
        change = day_change(frame["close"].to_numpy(dtype=float), len(frame) - 1)
        picks.append(Pick(str(row["ticker"]), day, float(score) if np.isfinite(score) else 0.0, values,
                          strategy.reason(row, params), change))

    record = track_records([(strategy, params)], frames, on_signals=pick)[0]
    return _ranked(picks), record


def _ranked(picks: Iterable[Pick | None]) -> list[Pick]:
    return sorted((p for p in picks if p is not None), key=lambda p: (-p.score, p.ticker))


def _pick_of(
    strategy: Strategy, params: BaseModel, ticker: str, frame: pd.DataFrame, stamp: pd.Timestamp
) -> Pick | None:
    """The pick of one ticker's window (oldest first) when its last row is `stamp`'s and fires."""
    if pd.Timestamp(frame["date"].iloc[-1]) != stamp:
        return None
    last = _signals(strategy, frame, params).iloc[-1]
    if not last["fired"]:
        return None
    row = frame.iloc[-1]
    values = {c: (None if pd.isna(row[c]) else float(row[c])) for c in strategy.columns}
    score = float(last["score"]) if np.isfinite(last["score"]) else 0.0
    change = day_change(frame["close"].to_numpy(dtype=float), len(frame) - 1)
    return Pick(ticker, stamp.date(), score, values, strategy.reason(row, params), change)


def day_change(closes: np.ndarray, i: int) -> float | None:
    """Row i's close against the previous analysed row's (the adjusted series, so a split is no change), a
    fraction; None on a ticker's first row or without both closes."""
    if i < 1 or not np.isfinite(closes[i]) or not np.isfinite(closes[i - 1]) or not closes[i - 1]:
        return None
    return float(closes[i] / closes[i - 1] - 1)


def episode_starts(fired: np.ndarray) -> np.ndarray:
    """True on the first day of each run of consecutive firing days."""
    fired = np.asarray(fired, dtype=bool)
    return fired & ~np.r_[False, fired[:-1]]


def _frames(rows: pd.DataFrame | Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    if isinstance(rows, pd.DataFrame):
        for _, frame in _by_ticker(rows):
            yield frame
    else:
        yield from rows


def track_records(
    items: Sequence[tuple[Strategy, BaseModel]],
    rows: pd.DataFrame | Iterable[pd.DataFrame],
    horizons: tuple[int, ...] = HORIZONS,
    on_signals: Callable[[int, pd.DataFrame, pd.DataFrame], None] | None = None,
) -> list[dict[str, Any]]:
    """Forward returns over each horizon of every past pick of each (strategy, params) (mean, median, hit
    rate, count) against the average forward return of every stock over the same days.

    A pick is an episode: the first day of a run of consecutive firing days of a stock (a "within 3 days"
    signal fires up to three days in a row for one event, and counts once). `picks` is the number of
    episodes, `firing_days` the number of days that fired. `rows` is one long frame or, to keep memory to
    one stock at a time, an iterable of per-ticker frames. `on_signals(i, frame, signals)` sees each item's
    signals on each ticker's frame (so a caller derives the day's picks without computing them twice)."""
    columns = [f"r{h}" for h in horizons]
    sums: pd.DataFrame | None = None
    counts: pd.DataFrame | None = None
    picked: list[list[pd.DataFrame]] = [[] for _ in items]
    firing_days = [0 for _ in items]
    for frame in _frames(rows):
        frame = frame.sort_values("date").reset_index(drop=True)
        close = frame["close"].astype(float)
        fwd = pd.DataFrame({f"r{h}": (close.shift(-h) / close - 1).to_numpy() for h in horizons})
        fwd.index = pd.DatetimeIndex(frame["date"])
        sums = fwd.fillna(0) if sums is None else sums.add(fwd.fillna(0), fill_value=0)
        present = fwd.notna().astype(int)
        counts = present if counts is None else counts.add(present, fill_value=0)
        for i, (strategy, params) in enumerate(items):
            out = _signals(strategy, frame, params)
            if on_signals is not None:
                on_signals(i, frame, out)
            fired = out["fired"].to_numpy()
            if fired.any():
                firing_days[i] += int(fired.sum())
                picked[i].append(fwd.loc[episode_starts(fired)])
    universe_mean = (sums / counts.where(counts > 0)) if sums is not None else pd.DataFrame(columns=columns)
    results = []
    for events, days in zip(picked, firing_days, strict=True):
        result: dict[str, Any] = {"picks": int(sum(len(e) for e in events)), "firing_days": days, "horizons": {}}
        picks = pd.concat(events) if events else pd.DataFrame(columns=columns, index=pd.DatetimeIndex([]))
        for h in horizons:
            returns = picks[f"r{h}"].dropna()
            stats: dict[str, float | int | None] = {"count": int(len(returns))}
            if len(returns):
                base = universe_mean.loc[returns.index, f"r{h}"]
                stats |= {
                    "mean": float(returns.mean()),
                    "median": float(returns.median()),
                    "hit_rate": float((returns > 0).mean()),
                    "universe_mean": float(base.mean()),
                    "excess_mean": float(returns.mean() - base.mean()),
                }
            else:
                stats |= {"mean": None, "median": None, "hit_rate": None, "universe_mean": None, "excess_mean": None}
            result["horizons"][str(h)] = stats
        results.append(result)
    return results


def track_record(
    strategy: Strategy,
    params: BaseModel,
    rows: pd.DataFrame | Iterable[pd.DataFrame],
    horizons: tuple[int, ...] = HORIZONS,
) -> dict[str, Any]:
    """The track record of one strategy with these parameters (see track_records)."""
    return track_records([(strategy, params)], rows, horizons)[0]


def window_start(calendar: TradingCalendar, strategy: Strategy, day: dt.date) -> dt.date:
    """The first day of the rows one day's picks read: half as many sessions again as the lookback, so that a
    stock halted for a while still has `lookback` rows."""
    window = strategy.lookback + strategy.lookback // 2 + 5
    return calendar.last_sessions(day, window)[0] if calendar.is_session(day) else day


def screen(
    storage: Storage, calendar: TradingCalendar, strategy: Strategy, params: BaseModel, day: dt.date | None = None
) -> tuple[dt.date | None, list[Pick]]:
    """Which stocks the strategy picks on `day` (default: the latest analysed day), from one indexed query."""
    if day is None:
        day = storage.analysis.latest_screening_day()
        if day is None:
            return None, []
    start = window_start(calendar, strategy, day)
    rows = as_frame(storage.analysis.screening_rows(start, day))
    if rows.empty:
        return day, []
    return day, picks_on(strategy, params, rows, day)


def analysis_frames(storage: Storage, day: dt.date) -> Iterator[pd.DataFrame]:
    """Every analysed ticker's indicator rows up to `day`, one ticker at a time."""
    stamp = pd.Timestamp(day)
    for ticker in storage.analysis.analysed_tickers():
        frame = as_frame(storage.analysis.read_analysis(ticker, end=day))
        if not frame.empty:
            yield frame.loc[frame["date"] <= stamp].assign(ticker=ticker)
