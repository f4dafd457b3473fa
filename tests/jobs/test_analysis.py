"""hourly_analysis: precondition over weekends and holidays, quota, deadline, failing tickers, crash and rerun."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import pytest

from lib.analysis.indicators import compute_frame
from lib.markets.krx.replay import ReplaySource
from tests.batch_cut import BatchCut, StoreTemplate, collected_once, copy_store, cut_points
from tests.conftest import PANEL
from tests.helpers import ScriptedSource, SimulatedKill, evening, kill_at_write, run_analysis, run_collection, snapshot
from tests.spine.test_collect import chain_of

D = dt.date


@pytest.fixture
def settings(make_settings):
    return make_settings(setup_history_sessions=260, analysis_quota_per_run=100)


@pytest.fixture(scope="module")
def collected_template() -> StoreTemplate:
    """The collection, run once for the module: each test analyses its own copy."""
    return collected_once(D(2024, 9, 13), setup_history_sessions=260, analysis_quota_per_run=100)


@pytest.fixture
def collected(storage, clock, collected_template):
    """The sample collected through Friday 2024-09-13 (Chuseok follows)."""
    return collected_template.copy_into(storage, clock)


def analysed(storage, day: dt.date) -> list[str]:
    return sorted(
        t["ticker"] for t in storage.universe.universe(active_only=True) if t["last_analyzed_date"] == day.isoformat()
    )


def test_analysis_over_the_weekend_and_holidays_targets_the_last_collected_session(collected, settings, clock):
    for when in (evening(D(2024, 9, 14), 10), evening(D(2024, 9, 17), 1)):  # Saturday, Chuseok night
        assert run_analysis(collected, settings, when, clock) == 0
    active = sorted(t["ticker"] for t in collected.universe.universe(active_only=True))
    assert analysed(collected, D(2024, 9, 13)) == active
    run = collected.jobs.runs("hourly_analysis")[0]
    assert run["analysed"] == 0 and run["day"] == "2024-09-13"  # the second run found nothing left


def test_analysis_runs_for_the_latest_collected_session_while_the_due_one_is_not_collected(
    collected, settings, clock, caplog
):
    with caplog.at_level(logging.INFO, logger="pipeline"):
        assert run_analysis(collected, settings, evening(D(2024, 9, 19), 20), clock) == 0
    assert "the collection of 2024-09-19 is not completed yet: analysing the latest collected session 2024-09-13" \
        in caplog.text
    assert analysed(collected, D(2024, 9, 19)) == [] and analysed(collected, D(2024, 9, 13))
    run = collected.jobs.runs("hourly_analysis")[0]
    assert run["status"] == "completed" and run["day"] == "2024-09-13" and run["waiting_for"] == "2024-09-19"


def test_analysis_before_manual_setup_needs_a_human(storage, settings, clock, caplog):
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        assert run_analysis(storage, settings, evening(D(2024, 9, 13), 20), clock) == 2
    assert "run `python manual_setup.py` first" in caplog.text


def test_a_source_that_publishes_next_morning_does_not_stall_analysis(collected, settings, clock):
    next_morning = ScriptedSource(ReplaySource(PANEL), "krx_openapi")
    next_morning.available_at = lambda day: evening(day + dt.timedelta(days=1), hour=8)
    # Monday 19:10: Monday itself is not published yet, so Friday's collection is the one to analyse.
    assert run_analysis(collected, settings, evening(D(2024, 9, 16), 19), clock, chain_of(next_morning)) == 0
    assert analysed(collected, D(2024, 9, 13))


def test_quota_takes_the_largest_caps_first_and_the_next_run_goes_on(collected, make_settings, clock):
    settings = make_settings(setup_history_sessions=260, analysis_quota_per_run=4)
    universe = [t["ticker"] for t in collected.universe.universe(active_only=True)]
    run_analysis(collected, settings, evening(D(2024, 9, 13), 20), clock)
    assert analysed(collected, D(2024, 9, 13)) == sorted(universe[:4])
    run_analysis(collected, settings, evening(D(2024, 9, 13), 21), clock)
    assert analysed(collected, D(2024, 9, 13)) == sorted(universe[:8])


def test_the_deadline_stops_a_run_cleanly(collected, make_settings, clock):
    settings = make_settings(setup_history_sessions=260, analysis_deadline_minutes=50)

    class SlowClock:
        """Each look at the clock is 20 minutes later: a slow machine."""

        def __init__(self):
            self.now = clock.now

        def __call__(self):
            self.now += dt.timedelta(minutes=20)
            return self.now

    from lib.analysis.job import hourly_analysis
    from lib.analysis.screener import discover
    from lib.markets.krx.market import krx_market
    from lib.spine.runner import run_job
    from tests.helpers import build_chain

    slow = SlowClock()
    market, registry = krx_market(settings, chain=build_chain(settings)), discover()
    run_job("hourly_analysis", settings, collected, evening(D(2024, 9, 13), 20), slow,
            lambda ctx: hourly_analysis(ctx, market, registry), lock_name="analysis")
    done = analysed(collected, D(2024, 9, 13))
    assert 0 < len(done) < len(collected.universe.universe(active_only=True))
    assert collected.jobs.runs("hourly_analysis")[0]["left"] > 0


def test_a_failing_ticker_is_logged_and_retried_without_stopping_the_others(collected, settings, clock, caplog):
    original = collected.bars.read_bars

    def broken(ticker, *args, **kwargs):
        if ticker == "000660":
            raise ValueError("corrupt document")
        return original(ticker, *args, **kwargs)

    collected.bars.read_bars = broken
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        assert run_analysis(collected, settings, evening(D(2024, 9, 13), 20), clock) == 0
    assert "000660: analysis failed, retried next run: ValueError: corrupt document" in caplog.text
    assert "000660: left out of the cross-section" in caplog.text
    done = analysed(collected, D(2024, 9, 13))
    assert "000660" not in done and "005930" in done
    assert collected.jobs.runs("hourly_analysis")[0]["failed"] == 1
    assert collected.cross_section.computed_days() == {}  # ranked without 000660: computed again by the next run
    collected.bars.read_bars = original
    assert run_analysis(collected, settings, evening(D(2024, 9, 13), 21), clock) == 0
    assert "000660" in analysed(collected, D(2024, 9, 13))
    assert set(collected.cross_section.computed_days()) == collected.jobs.done_days("daily_update")


def test_stored_rows_are_the_indicators_of_the_stored_bars_without_halted_days(collected, settings, clock):
    run_analysis(collected, settings, evening(D(2024, 9, 13), 20), clock)
    stored = pd.DataFrame(collected.analysis.read_analysis("012450"))
    bars = pd.DataFrame(collected.bars.read_bars("012450"))
    expected = compute_frame(bars)
    assert len(stored) == len(expected) < len(bars)  # 012450 has halted days
    pd.testing.assert_series_equal(stored["macd"], expected["macd"], check_names=False)
    rows = collected.analysis.screening_rows(D(2024, 9, 13), D(2024, 9, 13))
    day = D(2024, 9, 13)
    traded = {t for t in analysed(collected, day) if not collected.bars.read_bars(t, day)[0]["halted"]}
    assert {r["ticker"] for r in rows} == traded and "012450" not in traded  # halted that day: no row


def test_track_records_are_refreshed_once_everything_is_analysed(collected, settings, clock):
    run_analysis(collected, settings, evening(D(2024, 9, 13), 20), clock)
    stats = collected.analysis.strategy_stats("macd_golden_cross")
    assert stats["as_of_date"] == "2024-09-13" and stats["horizons"]["20"]["count"] > 0
    assert set(stats["horizons"]) == {"5", "10", "20"}


def test_a_run_killed_halfway_then_rerun_gives_the_same_analysis(storage, make_settings, clock):
    import mongomock_ng

    from lib.storage import Storage

    settings = make_settings(setup_history_sessions=30, analysis_quota_per_run=100)

    def scenario(store, crash_at):
        run_collection("manual_setup", store, settings, evening(D(2024, 9, 13)), clock)
        writes = kill_at_write(store, crash_at)
        try:
            run_analysis(store, settings, evening(D(2024, 9, 13), 20), clock)
        except SimulatedKill:
            clock.advance(minutes=settings.lock_timeout_minutes + 1)
            assert run_analysis(store, settings, evening(D(2024, 9, 13), 21), clock) == 0
        store.on_write = None
        return writes["n"]

    def state(store):
        analysis = {t: store.analysis.read_analysis(t) for t in store.bars.stored_tickers()}
        stats = {s: store.analysis.strategy_stats(s) for s in ("volume_spike", "golden_cross")}
        picks = list(store.picks.daily_picks.find({}).sort("_id", 1))
        return snapshot(store), analysis, list(store.analysis.screening.find({}).sort("_id", 1)), stats, picks

    total = scenario(storage, None)
    expected = state(storage)
    for crash_at in sorted({1, 2, 3, total // 3, total // 2, total - 3, total - 1, total}):
        crashed = Storage(mongomock_ng.MongoClient(), prefix="test_")
        scenario(crashed, crash_at)
        assert state(crashed) == expected, f"differs after a kill at write {crash_at}"


def _analysis_state(store):
    """Everything the analysis stores, by collection."""
    out = {"analysis": {t: store.analysis.read_analysis(t) for t in store.bars.stored_tickers()},
           "screening": list(store.analysis.screening.find({}).sort("_id", 1))}
    for name in ("cross_section", "cross_section_days", "corporate_actions", "latest_values", "analysis_state",
                 "daily_picks", "strategy_stats", "target_tickers"):
        out[name] = list(store.system[name].find({}, {"_id": 1, "ticker": 1} if name == "target_tickers" else None)
                         .sort("_id", 1))
    out["analysed"] = {t["ticker"]: t.get("last_analyzed_date") for t in store.universe.universe()}
    return out


def test_an_analysis_batch_cut_partway_then_rerun_gives_the_same_analysis(storage, make_settings, clock):
    import mongomock_ng

    from lib.storage import Storage

    # Each multi-document write of the analysis (a ticker's rows and their screening-index rows, the days of
    # the cross-section, the picks, the latest values) is cut partway, then the next hourly run goes on after the
    # lock timeout. Every unit has its marker written after it: a ticker's last_analyzed_date, a day's
    # cross_section_days record, the picks' analysis_state.
    settings = make_settings(setup_history_sessions=30, analysis_quota_per_run=100)
    run_collection("manual_setup", storage, settings, evening(D(2024, 9, 13)), clock)

    def scenario(cut):
        store = Storage(mongomock_ng.MongoClient(), prefix="test_")
        copy_store(storage.client, store.client)
        with BatchCut(cut).installed() as cutter:
            try:
                assert run_analysis(store, settings, evening(D(2024, 9, 13), 20), clock) == 0
            except SimulatedKill:
                clock.advance(minutes=settings.lock_timeout_minutes + 1)
                assert run_analysis(store, settings, evening(D(2024, 9, 13), 21), clock) == 0
        return store, cutter

    reference, counted = scenario(None)
    expected = _analysis_state(reference)
    assert {p.split(".", 1)[1] for p, _ in counted.calls} >= {"<ticker>", "screening_index", "daily_picks",
                                                             "cross_section_days", "latest_values"}
    for cut in cut_points(counted.calls, both=False):
        crashed, cutter = scenario(cut)
        assert cutter.fired, f"{cut} never happened"
        assert _analysis_state(crashed) == expected, f"differs after {cut} ({counted.calls[cut.call - 1]})"


def test_a_second_analysis_run_exits_while_the_first_holds_the_lock(collected, settings, clock):
    collected.jobs.acquire_lock("analysis", "other", clock(), dt.timedelta(minutes=30))
    assert run_analysis(collected, settings, evening(D(2024, 9, 13), 20), clock) == 0
    assert analysed(collected, D(2024, 9, 13)) == []


def test_picks_are_stored_for_every_analysed_day_once_the_day_completes(collected, settings, clock):
    run_analysis(collected, settings, evening(D(2024, 9, 13), 20), clock)
    first = collected.analysis.first_screening_day()
    doc = collected.picks.daily_picks_for("volume_spike", D(2024, 9, 13))
    assert doc["track_record"]["as_of_date"] == "2024-09-13" and doc["params"] == {"multiple": 3.0, "up_day_only": True}
    assert collected.picks.daily_picks_for("golden_cross", first) is not None  # the history is backfilled
    stats = collected.analysis.strategy_stats("volume_spike")
    assert doc["track_record"]["horizons"]["5"] == pytest.approx(stats["horizons"]["5"])
    assert collected.jobs.runs("hourly_analysis")[0]["daily_picks"] > 11
    # the column-wise copies custom screens read: every analysed row of every ticker, through the day
    assert collected.columns.analysis_columns_through() == D(2024, 9, 13)
    columns = collected.columns.read_ticker_columns(["close", "rsi_14"])
    copies = {ticker: (dates, values) for ticker, dates, values in columns}
    assert set(copies) == set(collected.analysis.analysed_tickers())
    ticker = collected.analysis.analysed_tickers()[0]
    stored = collected.analysis.read_analysis(ticker)
    assert list(copies[ticker][1]["close"]) == [r["close"] for r in stored]
    assert len(copies[ticker][0]) == len(stored) and set(copies[ticker][1]) == {"close", "rsi_14"}
    run_analysis(collected, settings, evening(D(2024, 9, 13), 21), clock)
    assert collected.jobs.runs("hourly_analysis")[0]["daily_picks"] == 0  # a later run of the same day writes nothing
