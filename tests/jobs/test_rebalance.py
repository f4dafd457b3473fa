"""monthly_rebalance on the daily portfolios etf_pipeline stored from the bundled real data."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from lib.markets.us.etf.rebalance import merge_portfolios
from tests.helpers import new_york, run_etf, run_rebalance

D = dt.date


@pytest.fixture
def settings(make_settings):
    return make_settings(us_first_run_sessions=2)


def test_the_last_sunday_merges_the_friday_portfolios_for_the_next_20_sessions(storage, settings, clock):
    assert run_etf(storage, settings, new_york(D(2025, 8, 29)), clock) == 0
    assert run_rebalance(storage, settings, new_york(D(2025, 8, 31), 10), clock) == 0
    month = storage.etf.monthly("2025-08")
    assert month["rebalance_date"] == "2025-08-31" and month["base_session"] == "2025-08-29"
    assert month["valid_from"] == "2025-09-02"  # Monday 1 September is Labor Day
    assert month["valid_until"] == "2025-09-29"  # the 20th session from 2 September
    daily = {p: storage.etf.portfolio(D(2025, 8, 29), p) for p in (5, 10, 20)}
    expected = merge_portfolios({p: {x["ticker"]: x["weight"] for x in d["positions"]} for p, d in daily.items()})
    assert [(p["ticker"], p["score"], p["final_rank"], p["final_weight"]) for p in month["positions"]] == [
        (r.ticker, r.score, r.final_rank, r.final_weight) for r in expected
    ]
    assert sum(p["final_weight"] for p in month["positions"]) == pytest.approx(1.0)
    assert month["performance"]["status"] == "pending"
    # Run again the same Sunday: nothing changes.
    assert run_rebalance(storage, settings, new_york(D(2025, 8, 31), 11), clock) == 0
    assert storage.etf.monthly("2025-08") == month


def test_another_sunday_with_nothing_missed_says_so_and_exits_0(storage, settings, clock, caplog):
    run_etf(storage, settings, new_york(D(2025, 9, 5)), clock)
    with caplog.at_level(logging.INFO, logger="pipeline"):
        assert run_rebalance(storage, settings, new_york(D(2025, 9, 7), 10), clock) == 0
    assert "2025-09-07 is not the last Sunday of the month (next: 2025-09-28); nothing to rebalance" in caplog.text
    assert storage.etf.monthly_months() == []


def test_a_missed_last_sunday_is_caught_up_by_the_next_run(storage, settings, clock):
    run_etf(storage, settings, new_york(D(2025, 8, 29)), clock)
    run_etf(storage, settings, new_york(D(2025, 9, 30)), clock)
    assert run_rebalance(storage, settings, new_york(D(2025, 10, 5), 10), clock) == 0  # the VM was off on 28 Sept
    assert storage.etf.monthly_months() == ["2025-08", "2025-09"]
    september = storage.etf.monthly("2025-09")
    assert september["rebalance_date"] == "2025-09-28" and september["base_session"] == "2025-09-26"
    august = storage.etf.monthly("2025-08")
    assert august["performance"]["status"] == "final" and august["performance"]["through"] == "2025-09-29"
    assert august["performance"]["sessions"] == 20
    assert september["performance"]["status"] == "open" and september["performance"]["through"] == "2025-09-30"


def test_a_rebalance_before_the_daily_portfolios_exist_fails_and_says_what_to_run(storage, settings, clock, caplog):
    run_etf(storage, settings, new_york(D(2025, 8, 28)), clock)
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        assert run_rebalance(storage, settings, new_york(D(2025, 8, 31), 10), clock) == 1
    assert ("the 2025-08 rebalance merges the daily portfolios of 2025-08-29, which etf_pipeline has not computed "
            "yet: run `python etf_pipeline.py` (it catches up), then run monthly_rebalance.py again with the same "
            "arguments") in caplog.text
    assert storage.etf.monthly_months() == []
    # A rebalance forced as of a day before the first collected session: that session is collected by --redo.
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        assert run_rebalance(storage, settings, new_york(D(2025, 6, 30), 10), clock, force=True) == 1
    assert "run `python etf_pipeline.py --redo 2025-06-30` (it is before the first session collected" in caplog.text


def test_force_rebalances_as_of_any_day(storage, settings, clock):
    run_etf(storage, settings, new_york(D(2025, 9, 10)), clock)
    assert run_rebalance(storage, settings, new_york(D(2025, 9, 10), 20), clock, force=True) == 0
    month = storage.etf.monthly("2025-09")
    assert month["rebalance_date"] == "2025-09-10" and month["base_session"] == "2025-09-10"
    assert month["valid_from"] == "2025-09-11"


def test_a_friday_recorded_without_data_leaves_the_thursday_portfolios_to_merge(storage, settings, clock):
    run_etf(storage, settings, new_york(D(2025, 8, 28)), clock)
    storage.jobs.mark_day(D(2025, 8, 29), "no_data", {"error": "every source answered empty"}, job="etf_pipeline")
    assert run_rebalance(storage, settings, new_york(D(2025, 8, 31), 10), clock) == 0
    assert storage.etf.monthly("2025-08")["base_session"] == "2025-08-28"


def test_months_caught_up_before_one_that_is_not_ready_get_their_performance(storage, settings, clock):
    run_etf(storage, settings, new_york(D(2025, 8, 29)), clock)
    run_etf(storage, settings, new_york(D(2025, 9, 30)), clock)
    # October's last Sunday needs the portfolios of 24 October, which etf_pipeline has not computed yet.
    assert run_rebalance(storage, settings, new_york(D(2025, 10, 26), 10), clock) == 1
    assert storage.etf.monthly_months() == ["2025-08", "2025-09"]
    assert storage.etf.monthly("2025-08")["performance"]["status"] == "final"
    assert storage.etf.monthly("2025-09")["performance"]["through"] == "2025-09-30"
