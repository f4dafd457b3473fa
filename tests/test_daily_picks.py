"""Precomputed picks: the same picks as screening the day, and track records that never see later data."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from lib.analysis.daily_picks import compute_daily_picks, days_to_compute
from lib.analysis.screener import Registry, discover, picks_on, track_record
from tests.test_screener import rows  # noqa: F401 - the indicator rows of the real panel

REGISTRY = discover()


def frames(rows: pd.DataFrame):  # noqa: F811
    return [g.reset_index(drop=True) for _, g in rows.groupby("ticker")]


def test_stored_picks_and_records_equal_screening_the_history_cut_at_each_day(rows):  # noqa: F811
    days = sorted(rows["date"].unique())
    checked = [pd.Timestamp(days[i]).date() for i in (150, 220, len(days) - 30, len(days) - 1)]
    docs = compute_daily_picks(REGISTRY, frames(rows), checked)
    assert len(docs) == len(checked) * len(REGISTRY)
    for doc in docs:
        strategy, day = REGISTRY[doc["strategy"]], dt.date.fromisoformat(doc["date"])
        params = strategy.params()
        expected = picks_on(strategy, params, rows, day)
        assert [(p["ticker"], p["score"], p["reason"]) for p in doc["picks"]] == [
            (p.ticker, pytest.approx(p.score), p.reason) for p in expected
        ], (strategy.name, day)
        cut = rows.loc[rows["date"] <= pd.Timestamp(day)]
        record = track_record(strategy, params, cut)
        assert doc["track_record"]["as_of_date"] == day.isoformat()
        assert doc["track_record"]["picks"] == record["picks"]
        for horizon, stats in record["horizons"].items():
            assert doc["track_record"]["horizons"][horizon] == pytest.approx(stats), (strategy.name, day, horizon)


def test_a_past_days_record_changes_nothing_when_later_days_are_added(rows):  # noqa: F811
    days = sorted(rows["date"].unique())
    past = pd.Timestamp(days[200]).date()
    short = compute_daily_picks(REGISTRY, frames(rows.loc[rows["date"] <= pd.Timestamp(days[205])]), [past])
    full = compute_daily_picks(REGISTRY, frames(rows), [past])
    assert [d["track_record"] for d in short] == [d["track_record"] for d in full]
    five = next(d for d in full if d["strategy"] == "volume_spike")["track_record"]["horizons"]["5"]
    assert five["count"] > 0  # not vacuous


def test_only_days_without_stored_picks_are_computed():
    registry = Registry({k: REGISTRY[k] for k in ("volume_spike", "golden_cross")})
    d1, d2, d3 = dt.date(2024, 9, 10), dt.date(2024, 9, 11), dt.date(2024, 9, 12)
    defaults = {s.name: s.params().model_dump() for s in registry}
    stored = {name: {d1.isoformat(): {"params": p}, d2.isoformat(): {"params": p}} for name, p in defaults.items()}
    assert days_to_compute(registry, stored, [d1, d2], d2) == []
    assert days_to_compute(registry, stored, [d1, d2, d3], d3) == [d3]
    stored["golden_cross"][d1.isoformat()] = {"params": {**defaults["golden_cross"], "slow": 120}}
    assert days_to_compute(registry, stored, [d1, d2, d3], d3) == [d1, d3]  # defaults changed: recomputed


def test_each_stored_pick_carries_its_change_against_the_previous_analysed_close(rows):  # noqa: F811
    day = pd.Timestamp(sorted(rows["date"].unique())[-1]).date()
    docs = compute_daily_picks(REGISTRY, frames(rows), [day])
    picks = [p for d in docs for p in d["picks"]]
    assert picks
    for pick in picks:
        closes = rows.loc[(rows["ticker"] == pick["ticker"]) & (rows["date"] <= pd.Timestamp(day))]
        closes = closes.sort_values("date")["close"].to_numpy()
        assert pick["change"] == pytest.approx(closes[-1] / closes[-2] - 1)
