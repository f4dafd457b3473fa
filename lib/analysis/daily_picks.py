"""Precomputed screener answers: every strategy's picks (default parameters) on each analysed day and its
track record as of that day, computed in one pass over the analysed history when a day's analysis completes,
so that GET /screener with default parameters is one indexed read.

A day's track record only counts forward returns that were known on that day (the close `h` traded sessions
later is on or before it), so a past day never sees later data; like `track_records`, a pick counts once per
episode (the first day of a run of firing days). It equals `track_record` run on the history
cut at that day (tested)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lib.analysis.history import column_arrays
from lib.analysis.screener import (
    HORIZONS,
    Registry,
    Strategy,
    _signals,
    analysis_frames,
    day_change,
    episode_starts,
)
from lib.log import get_logger
from lib.storage import Storage
from lib.storage.universe import listed_on

log = get_logger("daily_picks")


@dataclass
class _Events:
    """One strategy's fired rows over every ticker: picks per day and forward returns per horizon."""

    picks: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    fired_days: list[np.ndarray] = field(default_factory=list)
    episode_days: list[np.ndarray] = field(default_factory=list)  # the first day of each run of firing days
    t: dict[int, list[np.ndarray]] = field(default_factory=dict)
    end: dict[int, list[np.ndarray]] = field(default_factory=dict)
    r: dict[int, list[np.ndarray]] = field(default_factory=dict)


def _forward(frame: pd.DataFrame, codes: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(day code, day code of the close h rows later, return) for the rows that have one."""
    close = frame["close"].to_numpy(dtype=float)
    n = len(close)
    if n <= h:
        empty = np.array([], dtype=np.int64)
        return empty, empty, np.array([], dtype=float)
    ret = close[h:] / close[: n - h] - 1
    keep = np.isfinite(ret)
    return codes[: n - h][keep], codes[h:][keep], ret[keep]


def _stats(returns: np.ndarray, base: np.ndarray) -> dict[str, float | int | None]:
    if not len(returns):
        return {"count": 0, "mean": None, "median": None, "hit_rate": None, "universe_mean": None, "excess_mean": None}
    mean, base_mean = float(returns.mean()), float(base.mean())
    return {
        "count": int(len(returns)),
        "mean": mean,
        "median": float(np.median(returns)),
        "hit_rate": float((returns > 0).mean()),
        "universe_mean": base_mean,
        "excess_mean": mean - base_mean,
    }


def compute_daily_picks(
    registry: Registry,
    frames: Iterable[pd.DataFrame],
    days: Iterable[dt.date],
    names: Mapping[str, Mapping[str, Any]] | None = None,
    horizons: tuple[int, ...] = HORIZONS,
) -> list[dict[str, Any]]:
    """Documents for `days` x every strategy: the picks of the day (strongest first, with name, market, score,
    values, reason and the day's change) and the track record as of the day. `frames` are per-ticker indicator
    rows with `ticker`."""
    names = names or {}
    wanted = sorted(set(days))
    wanted_codes = np.array([d.toordinal() for d in wanted], dtype=np.int64)
    strategies = list(registry)
    params = {s.name: s.params() for s in strategies}
    events = {s.name: _Events() for s in strategies}
    universe: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {h: [] for h in horizons}
    for frame in frames:  # one ticker at a time, so memory stays flat as the universe grows
        if frame.empty:
            continue
        frame = frame.sort_values("date").reset_index(drop=True)
        ticker = str(frame["ticker"].iloc[0])
        codes = np.array([d.toordinal() for d in pd.to_datetime(frame["date"])], dtype=np.int64)
        closes = frame["close"].to_numpy(dtype=float)
        forward = {h: _forward(frame, codes, h) for h in horizons}
        for h in horizons:
            universe[h].append(forward[h])
        for strategy in strategies:
            ev = events[strategy.name]
            out = _signals(strategy, frame, params[strategy.name])
            fired = out["fired"].to_numpy()
            if not fired.any():
                continue
            starts = episode_starts(fired)  # a pick counts once per episode, as in track_records
            ev.fired_days.append(codes[fired])
            ev.episode_days.append(codes[starts])
            for h in horizons:
                t, end, r = forward[h]
                mask = np.isin(t, codes[starts])
                ev.t.setdefault(h, []).append(t[mask])
                ev.end.setdefault(h, []).append(end[mask])
                ev.r.setdefault(h, []).append(r[mask])
            for i in np.flatnonzero(fired & np.isin(codes, wanted_codes)):
                pick = _pick(strategy, frame.iloc[i], out["score"].iloc[i], params[strategy.name], ticker, names)
                pick["change"] = day_change(closes, i)
                ev.picks.setdefault(int(codes[i]), []).append(pick)
    records = _records_by_day(strategies, events, universe, wanted, horizons)
    docs = []
    for day in wanted:
        code = day.toordinal()
        for strategy in strategies:
            picks = sorted(events[strategy.name].picks.get(code, []), key=lambda p: (-p["score"], p["ticker"]))
            docs.append({
                "strategy": strategy.name,
                "date": day.isoformat(),
                "params": params[strategy.name].model_dump(),
                "count": len(picks),
                "picks": picks,
                "track_record": records[(strategy.name, code)],
            })
    return docs


def _pick(
    strategy: Strategy, row: pd.Series, score: float, params: Any, ticker: str, names: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    info = names.get(ticker, {})
    values = {c: (None if pd.isna(row[c]) else float(row[c])) for c in strategy.columns}
    return {
        "ticker": ticker,
        "name": info.get("name"),
        "market": listed_on(info),
        "score": float(score) if np.isfinite(score) else 0.0,
        "values": values,
        "reason": strategy.reason(row, params),
    }


def _records_by_day(
    strategies: list[Strategy],
    events: Mapping[str, _Events],
    universe: Mapping[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]],
    wanted: list[dt.date],
    horizons: tuple[int, ...],
) -> dict[tuple[str, int], dict[str, Any]]:
    """Each strategy's track record as of each wanted day: only returns whose closing day is on or before it.
    Days are ordinals; per-day universe sums live in arrays offset by the first day."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    per_h: dict[int, dict[str, Any]] = {}
    empty_i, empty_f = np.array([], dtype=np.int64), np.array([], dtype=float)
    firsts = [p[0].min() for h in horizons for p in universe[h] if len(p[0])]
    lasts = [p[0].max() for h in horizons for p in universe[h] if len(p[0])]
    offset = int(min(firsts)) if firsts else 0
    size = int(max(lasts)) - offset + 1 if lasts else 1
    for h in horizons:
        parts = universe[h]
        t = np.concatenate([p[0] for p in parts]) - offset if parts else empty_i
        end = np.concatenate([p[1] for p in parts]) if parts else empty_i
        r = np.concatenate([p[2] for p in parts]) if parts else empty_f
        order = np.argsort(end, kind="stable")
        per_h[h] = {"t": t[order], "end": end[order], "r": r[order], "sums": np.zeros(size), "counts": np.zeros(size),
                    "added": 0}
    strategy_events: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for strategy in strategies:
        ev = events[strategy.name]
        for h in horizons:
            t = np.concatenate(ev.t[h]) - offset if ev.t.get(h) else empty_i
            end = np.concatenate(ev.end[h]) if ev.end.get(h) else empty_i
            r = np.concatenate(ev.r[h]) if ev.r.get(h) else empty_f
            order = np.argsort(end, kind="stable")
            strategy_events[(strategy.name, h)] = (t[order], end[order], r[order])
    fired_days = {
        s.name: np.sort(np.concatenate(events[s.name].fired_days)) if events[s.name].fired_days else np.array([])
        for s in strategies
    }
    episode_days = {
        s.name: np.sort(np.concatenate(events[s.name].episode_days)) if events[s.name].episode_days else np.array([])
        for s in strategies
    }
    for day in wanted:
        code = day.toordinal()
        for h in horizons:
            u = per_h[h]
            known = int(np.searchsorted(u["end"], code, side="right"))
            if known > u["added"]:
                np.add.at(u["sums"], u["t"][u["added"]:known], u["r"][u["added"]:known])
                np.add.at(u["counts"], u["t"][u["added"]:known], 1)
                u["added"] = known
        for strategy in strategies:
            record: dict[str, Any] = {
                "as_of_date": day.isoformat(),
                "picks": int(np.searchsorted(episode_days[strategy.name], code, side="right")),
                "firing_days": int(np.searchsorted(fired_days[strategy.name], code, side="right")),
                "horizons": {},
            }
            for h in horizons:
                t, end, r = strategy_events[(strategy.name, h)]
                k = int(np.searchsorted(end, code, side="right"))
                u = per_h[h]
                base = u["sums"][t[:k]] / u["counts"][t[:k]] if k else np.array([])
                record["horizons"][str(h)] = _stats(r[:k], base)
            out[(strategy.name, code)] = record
    return out


def days_to_compute(
    registry: Registry, stored: Mapping[str, Mapping[str, Mapping[str, Any]]], analysed: Iterable[dt.date],
    target: dt.date,
) -> list[dt.date]:
    """Every analysed day up to `target` that some strategy has no stored picks for, or stored with other
    default parameters (the strategy changed). Stored days are kept: they are what the screener said then."""
    days: set[dt.date] = set()
    for day in [*analysed, target]:
        if day > target:
            continue
        for strategy in registry:
            doc = stored.get(strategy.name, {}).get(day.isoformat())
            if doc is None or doc.get("params") != strategy.params().model_dump():
                days.add(day)
                break
    return sorted(days)


def store_daily_picks(storage: Storage, registry: Registry, sessions: list[dt.date], target: dt.date) -> int:
    """When `target`'s analysis is complete: compute and store the picks and as-of track records of `target`
    and of every analysed session (`sessions`) lacking them, and the column-wise copies of the analysed rows
    custom screens read; returns the picks documents written (0 when every day is stored already, so later
    hourly runs of the same day cost a few small reads)."""
    stored = {s.name: storage.picks.daily_picks_days(s.name) for s in registry}
    wanted = days_to_compute(registry, stored, sessions, target)
    state = storage.picks.picks_state() or {}
    first = min(sessions, default=target)
    written = 0
    if (wanted or state.get("latest_day") != target.isoformat() or state.get("first_day") != first.isoformat()
            or storage.columns.analysis_columns_through() != target):
        tickers: list[str] = []
        frames = _saving_columns(storage, analysis_frames(storage, target), tickers)
        if wanted:
            names = {t["ticker"]: t for t in storage.universe.universe()}
            written = storage.picks.save_daily_picks(compute_daily_picks(registry, frames, wanted, names))
        else:
            for _ in frames:  # only the column-wise copies are missing (a store written before they existed)
                pass
        storage.columns.finish_analysis_columns(target, tickers)
        storage.picks.save_latest_values(target, storage.analysis.screening_rows(target, target))
        storage.picks.save_picks_state(first, target, [s.name for s in registry])
    return written


def _saving_columns(storage: Storage, frames: Iterable[pd.DataFrame], tickers: list[str]) -> Iterator[pd.DataFrame]:
    """The frames, each ticker's stored column-wise on the way (one ticker in memory at a time)."""
    for frame in frames:
        ticker = str(frame["ticker"].iloc[0])
        storage.columns.save_ticker_columns(ticker, *column_arrays(frame))
        tickers.append(ticker)
        yield frame
