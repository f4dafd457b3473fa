"""The scoring is honest: fake models of known skill over real outcomes (the bundled KRX sample's forward
5-session returns against each day's median) score what they must."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lib.ai.scoring import Scored, score

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "krx_sample.parquet"
HORIZON = 5


@pytest.fixture(scope="module")
def outcomes() -> pd.DataFrame:
    """60 sessions of every sample stock: forward 5-session return, minus the day's median, beat or not."""
    panel = pd.read_parquet(SAMPLE, columns=["date", "ticker", "close"])
    closes = panel.pivot(index="date", columns="ticker", values="close").sort_index()
    forward = closes.shift(-HORIZON) / closes - 1
    days = forward.index[-(60 + HORIZON):-HORIZON]
    rows = forward.loc[days].stack().rename("forward").reset_index()
    rows["excess"] = rows["forward"] - rows.groupby("date")["forward"].transform("median")
    rows["beat"] = rows["excess"] > 0
    return rows


def predictions(rows: pd.DataFrame, probabilities: np.ndarray) -> list[Scored]:
    return [Scored(pd.Timestamp(d).date(), t, float(p), bool(b), float(e)) for d, t, p, b, e in
            zip(rows["date"], rows["ticker"], probabilities, rows["beat"], rows["excess"], strict=True)]


def test_a_model_that_reads_the_future_backwards_scores_balanced_accuracy_0_not_chance(outcomes):
    s = score(predictions(outcomes, 1 - outcomes["beat"].astype(float).to_numpy()), resamples=0)
    assert s.accuracy == 0 and s.balanced_accuracy == 0 and s.brier == 1


def test_a_model_that_reads_the_future_scores_accuracy_1_brier_0_and_full_skill(outcomes):
    s = score(predictions(outcomes, outcomes["beat"].astype(float).to_numpy()), resamples=200)
    assert s.accuracy == 1 and s.balanced_accuracy == 1 and s.brier == 0 and s.brier_skill == 1
    assert s.ic_mean > 0.8 and s.intervals["brier_skill"] == (1.0, 1.0)
    assert s.top_k_excess > 0.02  # its five highest each day beat the median by more than 2 % on average
    assert s.count == len(outcomes) and s.days == 60


def test_a_constant_half_scores_brier_a_quarter_and_no_skill(outcomes):
    s = score(predictions(outcomes, np.full(len(outcomes), 0.5)), resamples=200)
    assert s.brier == pytest.approx(0.25)
    assert abs(s.base_rate - 0.5) < 0.01  # beating the median: half, by construction
    assert s.brier_skill == pytest.approx(0, abs=1e-3)
    assert s.balanced_accuracy == 0.5  # it calls every stock a beat: right on beats, wrong on misses
    assert s.ic_mean is None and s.ic_days == 0  # one probability for every stock ranks nothing
    assert s.top_k_excess is None and "top_k_excess" not in s.intervals  # nor picks a top 5 (not the first tickers)


def test_a_coin_flip_has_no_edge_its_intervals_contain_zero_and_its_brier_skill_is_negative(outcomes):
    rng = np.random.default_rng(7)
    s = score(predictions(outcomes, rng.uniform(size=len(outcomes))), resamples=1000)
    low, high = s.intervals["ic_mean"]
    assert low < 0 < high
    low, high = s.intervals["balanced_accuracy"]
    assert low < 0.5 < high
    # a random probability is worse than saying the base rate: E[(U - y)^2] = 1/3 against 1/4
    assert s.brier == pytest.approx(1 / 3, abs=0.01) and s.intervals["brier_skill"][1] < 0


def test_a_model_with_some_skill_is_told_apart_from_the_coin_flip(outcomes):
    """Probabilities that lean the right way a little: positive skill and IC, intervals above zero."""
    rng = np.random.default_rng(3)
    lean = np.where(outcomes["beat"], 0.58, 0.42) + rng.normal(0, 0.05, len(outcomes))
    s = score(predictions(outcomes, np.clip(lean, 0, 1)), resamples=1000)
    assert s.brier_skill > 0 and s.intervals["brier_skill"][0] > 0
    assert s.intervals["ic_mean"][0] > 0 and s.icir > 0


def test_calibration_bins_hold_every_prediction_and_a_calibrated_model_matches_its_frequencies(outcomes):
    rng = np.random.default_rng(11)
    p = rng.uniform(size=len(outcomes))
    calibrated = [Scored(dt.date(2025, 1, 1) + dt.timedelta(days=i // 100), f"T{i}", float(q),
                         bool(rng.uniform() < q), 0.0) for i, q in enumerate(p)]
    s = score(calibrated, resamples=0)
    assert sum(b.count for b in s.calibration) == len(calibrated)
    for b in s.calibration:
        assert b.low <= b.mean_probability < b.high
        assert abs(b.frequency - b.mean_probability) < 0.06  # about 1,300 predictions per bin


def test_the_intervals_are_repeatable_and_bad_probabilities_are_refused(outcomes):
    rows = predictions(outcomes.head(500), np.linspace(0, 1, 500))
    assert score(rows, resamples=100, seed=1).intervals == score(rows, resamples=100, seed=1).intervals
    with pytest.raises(ValueError, match="not in \\[0, 1\\]"):
        score([Scored(dt.date(2025, 1, 2), "005930", 1.2, True, 0.01)])
    with pytest.raises(ValueError, match="nothing to score"):
        score([])
