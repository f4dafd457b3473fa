"""How good a model's probabilities were, honestly: scores of predictions whose outcome is known (issue 16).

Each scored prediction says, on a day, the probability that a stock beats the universe's median forward return
over a horizon; the outcome is whether it did, and its excess return is the stock's forward return minus that
median. From a set of them (one model, prompt and horizon over a window):

- accuracy (a call is p >= 0.5) and balanced accuracy (the mean of the hit rates on beats and on misses, so a
  model that always says "beats" scores 0.5 whatever the base rate), against the majority-class accuracy;
- the Brier score (mean squared error of the probability) and its skill against climatology, 1 - Brier /
  (base rate x (1 - base rate)): the Brier of always saying the window's own base rate. 0 is no better than the
  base rate, 1 is perfect, below 0 is worse than saying the base rate every time;
- calibration: the predictions in probability bins, each bin's mean probability against how often it came true;
- the daily cross-sectional rank IC (Spearman correlation between probability and excess return among one
  day's predictions, days with at least MIN_IC_STOCKS and not all equal probabilities), its mean, standard
  deviation and ICIR = mean / standard deviation (per day, not annualised);
- the top-k excess return: each day, the mean excess return of the k highest probabilities, averaged over days;
- 95% intervals by a moving day-block bootstrap: blocks of `block_days` consecutive prediction days drawn with
  replacement, so the correlation of overlapping horizons and of one market day's stocks stays inside a block.

Pure: no storage, no clock; numpy only."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MIN_IC_STOCKS = 3  # fewer predictions on a day give no meaningful rank correlation
INTERVAL = (2.5, 97.5)  # percentiles of the bootstrap: a 95% interval


@dataclass(frozen=True)
class Scored:
    """One prediction with its outcome."""

    day: dt.date  # the session the prediction was made for (its cutoff)
    ticker: str
    probability: float  # P(the stock beats the universe's median forward return), 0..1
    outcome: bool  # it did
    excess_return: float  # its forward return minus the universe's median, as a fraction (0.012 = 1.2 %)


@dataclass(frozen=True)
class Bin:
    """One calibration bin: predictions with probability in [low, high)."""

    low: float
    high: float
    count: int
    mean_probability: float | None
    frequency: float | None  # how often they came true


@dataclass(frozen=True)
class Scores:
    """The scores of one set of predictions, with 95% day-block bootstrap intervals."""

    count: int
    days: int
    base_rate: float  # the share that beat the median
    accuracy: float
    majority_accuracy: float  # always calling the more frequent outcome
    balanced_accuracy: float
    brier: float
    climatology_brier: float  # base_rate x (1 - base_rate)
    brier_skill: float | None  # None when every outcome is the same (climatology is then perfect)
    ic_mean: float | None
    ic_std: float | None
    icir: float | None
    ic_days: int
    top_k: int
    top_k_excess: float | None  # mean over days, fraction
    calibration: list[Bin] = field(default_factory=list)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None when either side is constant."""
    if len(x) < MIN_IC_STOCKS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    rx, ry = _ranks(x), _ranks(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    # ties share their average rank
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


@dataclass(frozen=True)
class _Days:
    """Per-day sums every score is a ratio of, so a bootstrap resample is a sum over drawn days."""

    days: list[dt.date]
    n: np.ndarray
    beats: np.ndarray
    correct: np.ndarray
    hits_on_beats: np.ndarray  # called beat and beat
    hits_on_misses: np.ndarray  # called miss and missed
    squared_error: np.ndarray
    ic: np.ndarray  # NaN on a day without one
    top_k_excess: np.ndarray  # NaN on a day whose probabilities are all equal (nothing ranked)


def _per_day(scored: Sequence[Scored], top_k: int) -> _Days:
    by_day: dict[dt.date, list[Scored]] = {}
    for row in scored:
        by_day.setdefault(row.day, []).append(row)
    days = sorted(by_day)
    columns: dict[str, list[float]] = {k: [] for k in
                                       ("n", "beats", "correct", "hb", "hm", "se", "ic", "top")}
    for day in days:
        rows = sorted(by_day[day], key=lambda r: r.ticker)
        p = np.array([r.probability for r in rows], dtype=float)
        y = np.array([r.outcome for r in rows], dtype=bool)
        excess = np.array([r.excess_return for r in rows], dtype=float)
        called = p >= 0.5
        columns["n"].append(len(rows))
        columns["beats"].append(int(y.sum()))
        columns["correct"].append(int((called == y).sum()))
        columns["hb"].append(int((called & y).sum()))
        columns["hm"].append(int((~called & ~y).sum()))
        columns["se"].append(float(((p - y) ** 2).sum()))
        ic = _spearman(p, excess)
        columns["ic"].append(math.nan if ic is None else ic)
        top = np.argsort(-p, kind="mergesort")[:top_k]  # ties: ticker order, so the result is deterministic
        # one probability for every stock picks nothing (as for the IC): its "top k" would be the first tickers
        columns["top"].append(math.nan if p.min() == p.max() else float(excess[top].mean()))
    a = {k: np.array(v, dtype=float) for k, v in columns.items()}
    return _Days(days, a["n"], a["beats"], a["correct"], a["hb"], a["hm"], a["se"], a["ic"], a["top"])


def _ratios(d: _Days, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Every score for each row of `weights` (resamples x days: how often each day was drawn)."""
    n = weights @ d.n
    beats = weights @ d.beats
    misses = n - beats
    base = beats / n
    brier = (weights @ d.squared_error) / n
    clim = base * (1 - base)
    with np.errstate(divide="ignore", invalid="ignore"):
        balanced = 0.5 * ((weights @ d.hits_on_beats) / beats + (weights @ d.hits_on_misses) / misses)
        skill = np.where(clim > 0, 1 - brier / clim, np.nan)
        has_ic = ~np.isnan(d.ic)
        ic_mean = (weights[:, has_ic] @ d.ic[has_ic]) / weights[:, has_ic].sum(axis=1)
        has_top = ~np.isnan(d.top_k_excess)
        top = (weights[:, has_top] @ d.top_k_excess[has_top]) / weights[:, has_top].sum(axis=1)
    return {"accuracy": (weights @ d.correct) / n, "balanced_accuracy": balanced, "brier": brier,
            "brier_skill": skill, "ic_mean": ic_mean, "top_k_excess": top, "base_rate": base}


def _calibration(scored: Sequence[Scored], bins: int) -> list[Bin]:
    p = np.array([r.probability for r in scored], dtype=float)
    y = np.array([r.outcome for r in scored], dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    index = np.minimum((p * bins).astype(int), bins - 1)  # 1.0 falls in the last bin
    out = []
    for b in range(bins):
        inside = index == b
        count = int(inside.sum())
        out.append(Bin(float(edges[b]), float(edges[b + 1]), count,
                       float(p[inside].mean()) if count else None, float(y[inside].mean()) if count else None))
    return out


def _balanced_or_chance(value: float) -> float:
    """Balanced accuracy, or 0.5 (chance) when one outcome never happened; 0.0 (always wrong) stays 0.0."""
    return 0.5 if math.isnan(value) else float(value)


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def score(scored: Sequence[Scored], top_k: int = 5, bins: int = 10, resamples: int = 1000, block_days: int = 5,
          seed: int = 0) -> Scores:
    """The scores of `scored` (at least one), with 95% intervals from `resamples` day-block bootstrap draws
    (`seed` makes them repeatable)."""
    if not scored:
        raise ValueError("nothing to score")
    bad = next((r for r in scored if not 0 <= r.probability <= 1 or math.isnan(r.probability)), None)
    if bad is not None:
        raise ValueError(f"probability {bad.probability} of {bad.ticker} on {bad.day} is not in [0, 1]")
    d = _per_day(scored, top_k)
    point = {k: float(v[0]) for k, v in _ratios(d, np.ones((1, len(d.days)))).items()}
    ics = d.ic[~np.isnan(d.ic)]
    ic_std = float(ics.std(ddof=1)) if len(ics) > 1 else None
    ic_mean = float(ics.mean()) if len(ics) else None
    base = point["base_rate"]
    intervals = _bootstrap(d, resamples, block_days, seed) if resamples else {}
    return Scores(
        count=len(scored), days=len(d.days), base_rate=base, accuracy=point["accuracy"],
        majority_accuracy=max(base, 1 - base), balanced_accuracy=_balanced_or_chance(point["balanced_accuracy"]),
        brier=point["brier"], climatology_brier=base * (1 - base), brier_skill=_none_if_nan(point["brier_skill"]),
        ic_mean=ic_mean, ic_std=ic_std, icir=ic_mean / ic_std if ic_mean is not None and ic_std else None,
        ic_days=len(ics), top_k=top_k, top_k_excess=_none_if_nan(point["top_k_excess"]),
        calibration=_calibration(scored, bins), intervals=intervals,
    )


def _bootstrap(d: _Days, resamples: int, block_days: int, seed: int) -> dict[str, tuple[float, float]]:
    """95% percentile intervals of each score over moving day-block resamples."""
    days = len(d.days)
    block = max(1, min(block_days, days))
    blocks = math.ceil(days / block)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, days - block + 1, size=(resamples, blocks))
    weights = np.zeros((resamples, days))
    rows = np.repeat(np.arange(resamples), blocks)
    for offset in range(block):
        np.add.at(weights, (rows, (starts + offset).ravel()), 1)
    out = {}
    for name, values in _ratios(d, weights).items():
        if name == "base_rate":
            continue
        finite = values[np.isfinite(values)]
        if len(finite) >= resamples // 2:  # a score most resamples cannot compute has no interval
            low, high = np.percentile(finite, INTERVAL)
            out[name] = (float(low), float(high))
    return out
