"""Self-healing collection: catch-up, crash safety, overlapping runs, source failures, halts, stuck days."""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial

import pandas as pd
import pytest

from lib.errors import BadDataError, SourceBlockedError, TransientSourceError
from lib.markets.krx.replay import ReplaySource
from lib.markets.krx.source_base import COLUMNS, Query
from lib.markets.krx.sources import Request, SourceChain, build_chain
from lib.spine.calendar import TradingCalendar
from lib.storage.dates import to_utc_midnight
from tests.batch_cut import BatchCut, cut_points
from tests.conftest import PANEL
from tests.helpers import ScriptedSource, evening, kill_at_write, restarted, run_collection, snapshot


def xkrx() -> TradingCalendar:
    """The KRX calendar with no overrides."""
    return TradingCalendar(exchange="XKRX", settings_prefix="KRX")

D = dt.date


def chain_of(*sources, **kwargs) -> SourceChain:
    kwargs.setdefault("sleep", lambda _s: None)
    kwargs.setdefault("min_gap_seconds", 0)
    kwargs.setdefault("backoff_seconds", 0)
    return SourceChain(list(sources), **kwargs)


def completed_days(storage) -> list[dt.date]:
    return [
        D.fromisoformat(d["date_kst"]) for d in storage.jobs.day_records("daily_update") if d["status"] == "completed"
    ]


def test_manual_setup_loads_the_window_and_builds_the_universe(storage, settings, clock):
    chain = build_chain(settings)
    assert run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock, chain) == 0
    assert completed_days(storage) == [D(2024, 8, 26), D(2024, 8, 27), D(2024, 8, 28), D(2024, 8, 29), D(2024, 8, 30)]
    assert chain.calls["replay"] == 10  # one call per market per day
    samsung = storage.bars.read_bars("005930")
    assert [b["date"] for b in samsung] == [to_utc_midnight(d) for d in completed_days(storage)]
    assert samsung[-1]["close"] == 74300 and samsung[-1]["halted"] is False
    universe = {t["ticker"]: t for t in storage.universe.universe()}
    assert universe["005930"]["is_active"] and universe["005930"]["added_date"] == "2024-08-30"
    assert universe["005930"]["last_analyzed_date"] is None
    assert "005935" not in universe and "00088K" not in universe  # preferred shares never join
    assert "005935" not in storage.bars.stored_tickers()


def test_catch_up_over_a_weekend_collects_only_monday(storage, settings, clock):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    chain = build_chain(settings)
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 2)), clock, chain) == 0
    assert completed_days(storage)[-1] == D(2024, 9, 2)
    assert chain.calls["replay"] == 2


def test_catch_up_skips_chuseok_holidays(storage, settings, clock):
    run_collection("manual_setup", storage, settings, evening(D(2024, 9, 13)), clock)
    chain = build_chain(settings)
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 19)), clock, chain) == 0
    assert completed_days(storage)[-2:] == [D(2024, 9, 13), D(2024, 9, 19)]
    assert chain.calls["replay"] == 2


def test_catch_up_after_a_multi_week_outage_costs_two_calls_per_session(storage, settings, clock):
    run_collection("manual_setup", storage, settings, evening(D(2024, 7, 31)), clock)
    chain = build_chain(settings)
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 6)), clock, chain) == 0
    missed = xkrx().sessions_between(D(2024, 8, 1), D(2024, 9, 6))
    assert D(2024, 8, 15) not in missed and len(missed) == 26
    assert completed_days(storage)[-len(missed):] == missed
    assert chain.calls["replay"] == 2 * len(missed)
    stored = [b["date"] for b in storage.bars.read_bars("000660", D(2024, 8, 1))]
    assert stored == [to_utc_midnight(d) for d in missed]

    again = build_chain(settings)
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 6)), clock, again) == 0
    assert again.calls["replay"] == 0


def test_daily_update_before_manual_setup_asks_for_it(storage, settings, clock, caplog):
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 2)), clock) == 2
    assert "run `python manual_setup.py` first" in caplog.text
    assert storage.jobs.runs()[0]["status"] == "failed"
    assert storage.bars.stored_tickers() == []


def test_manual_setup_over_a_file_that_starts_later_loads_from_its_first_session(
    storage, make_settings, clock, caplog
):
    settings = make_settings(setup_history_sessions=300)
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        assert run_collection("manual_setup", storage, settings, evening(D(2024, 1, 5)), clock) == 0
    assert completed_days(storage)[0] == D(2023, 12, 5)
    assert "loading from 2023-12-05" in caplog.text


def test_manual_setup_run_again_has_nothing_to_load(storage, settings, clock):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    chain = build_chain(settings)
    assert run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock, chain) == 0
    assert chain.calls["replay"] == 0


# --- crash safety ------------------------------------------------------------------------------------


def _scenario(storage, settings, clock, crash_at: int | None) -> int:
    """manual_setup then a catch-up over a month boundary; with crash_at, the process dies at that write
    and is restarted (after the lock timeout) until the scenario is done. Returns the writes counted."""
    writes = kill_at_write(storage, crash_at)
    steps = [("manual_setup", evening(D(2024, 5, 24))), ("daily_update", evening(D(2024, 6, 5)))]
    for job, as_of in steps:
        restarted(partial(run_collection, job, storage, settings, as_of, clock), clock, settings)
        clock.advance(minutes=1)
    return writes["n"]


def test_a_run_killed_at_any_write_then_rerun_gives_the_same_database(storage, clock, make_settings, tmp_path):
    import mongomock_ng

    from lib.storage import Storage

    # Six real issues keep the number of write points (and so of replays) small: large caps of both markets,
    # a KOSPI stock with halts, a KOSDAQ one near the 100 billion line, a preferred share.
    panel = pd.read_parquet(PANEL)
    tiny = tmp_path / "tiny.parquet"
    panel.loc[panel["ticker"].isin(["005930", "001530", "000040", "196170", "014470", "005935"])].to_parquet(tiny)
    settings = make_settings(setup_history_sessions=5, krx_replay_path=tiny)
    total = _scenario(storage, settings, clock, crash_at=None)
    expected = snapshot(storage)
    assert len(expected["days"]) == 5 + 8 and total > 20
    for crash_at in range(1, total + 1):
        crashed = Storage(mongomock_ng.MongoClient(), prefix="test_")
        _scenario(crashed, settings, clock, crash_at=crash_at)
        assert snapshot(crashed) == expected, f"differs after a kill at write {crash_at}"
        assert all(run["status"] != "running" for run in crashed.jobs.runs())


def test_a_batch_cut_partway_then_rerun_gives_the_same_database(storage, clock, make_settings, tmp_path):
    import mongomock_ng

    from lib.storage import Storage

    # The kill test's panel and runs; each multi-document write (a ticker's month of bars, the universe's bulk
    # update; the first and the last of each) applies its first document only, or all but its first, when the
    # process dies. The day records, written after the month is stored, are what make this safe.
    panel = pd.read_parquet(PANEL)
    tiny = tmp_path / "tiny.parquet"
    panel.loc[panel["ticker"].isin(["005930", "001530", "000040", "196170", "014470", "005935"])].to_parquet(tiny)
    settings = make_settings(setup_history_sessions=5, krx_replay_path=tiny)
    with BatchCut().installed() as counted:
        _scenario(storage, settings, clock, crash_at=None)
    expected = snapshot(storage)
    assert {point for point, _ in counted.calls} == {"test_stock_data.<ticker>", "test_system_info.target_tickers"}
    for cut in cut_points(counted.calls):
        crashed = Storage(mongomock_ng.MongoClient(), prefix="test_")
        with BatchCut(cut).installed() as cutter:
            _scenario(crashed, settings, clock, crash_at=None)
        assert cutter.fired, f"{cut} never happened"
        assert snapshot(crashed) == expected, f"differs after {cut} ({counted.calls[cut.call - 1]})"
        assert all(run["status"] != "running" for run in crashed.jobs.runs())


# --- overlapping runs --------------------------------------------------------------------------------


def test_a_second_run_exits_cleanly_while_the_first_holds_the_lock(storage, settings, clock, caplog):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    ttl = dt.timedelta(minutes=settings.lock_timeout_minutes)
    assert storage.jobs.acquire_lock("stock_data_collection", "other-run", clock(), ttl) == (True, None)
    chain = build_chain(settings)
    with caplog.at_level(logging.INFO, logger="pipeline"):
        assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 2)), clock, chain) == 0
    assert "another run (other-run) holds" in caplog.text
    assert chain.calls["replay"] == 0 and completed_days(storage)[-1] == D(2024, 8, 30)
    assert [r["job_name"] for r in storage.jobs.runs()] == ["manual_setup"]


def test_a_stale_running_record_is_taken_over_after_the_timeout(storage, settings, clock):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    ttl = dt.timedelta(minutes=settings.lock_timeout_minutes)
    storage.jobs.start_run("killed-run", {"job_name": "daily_update", "start_time_utc": clock().replace(tzinfo=None)})
    storage.jobs.acquire_lock("stock_data_collection", "killed-run", clock(), ttl)
    clock.advance(minutes=settings.lock_timeout_minutes + 1)
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 2)), clock) == 0
    killed = storage.job_status.find_one({"_id": "killed-run"})
    assert killed["status"] == "failed" and "abandoned" in killed["error"]
    assert completed_days(storage)[-1] == D(2024, 9, 2)


def test_a_run_whose_lock_was_taken_over_stops_writing(storage, settings, clock, replay):
    run_collection("manual_setup", storage, settings, evening(D(2024, 7, 31)), clock)
    ttl = dt.timedelta(minutes=settings.lock_timeout_minutes)

    def steal_lock():
        storage.locks.update_one({"_id": "stock_data_collection"}, {"$set": {"owner": "usurper"}})

    source = ScriptedSource(replay, "replay", failures={D(2024, 8, 5): steal_lock})
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 6)), clock, chain_of(source)) == 1
    # August was fetched in one month chunk; the heartbeat after writing it found the lock gone.
    assert completed_days(storage)[-1] == D(2024, 8, 30)
    assert storage.locks.find_one({"_id": "stock_data_collection"})["owner"] == "usurper"
    assert not storage.jobs.acquire_lock("stock_data_collection", "x", clock(), ttl)[0]


# --- source failures ---------------------------------------------------------------------------------


def _raise(exc: Exception):
    def fail():
        raise exc

    return fail


FAILURES = {
    "timeout": _raise(TransientSourceError("replay: ReadTimeout")),
    "http_5xx": _raise(TransientSourceError("replay: HTTP 503")),
    "empty": lambda: pd.DataFrame(columns=list(COLUMNS)),
    "malformed": lambda: {"not": "a frame"},
    "blocked": _raise(SourceBlockedError("replay: KRX answered LOGOUT")),
    "bad_data": _raise(BadDataError("replay: answer is not JSON")),
}


SOURCES_DOWN = {"timeout", "http_5xx", "blocked"}


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_a_source_failure_never_marks_the_day_completed(storage, settings, clock, replay, kind):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    bad_day = D(2024, 9, 4)
    source = ScriptedSource(replay, "replay", failures={bad_day: FAILURES[kind]})
    chain = chain_of(source, max_attempts=3)
    code = run_collection("daily_update", storage, settings, evening(D(2024, 9, 6)), clock, chain)
    assert bad_day not in storage.jobs.done_days("daily_update")
    assert storage.bars.read_bars("005930", bad_day, bad_day) == []
    run = storage.jobs.runs()[0]
    if kind in SOURCES_DOWN:
        # The source itself fails: the run stops there rather than hammer it for every later day.
        assert code == 1 and completed_days(storage)[-2:] == [D(2024, 9, 2), D(2024, 9, 3)]
    else:
        # The day's own answer is the problem: the sessions after it are not held back.
        assert completed_days(storage)[-2:] == [D(2024, 9, 5), D(2024, 9, 6)]
        record = {d["date_kst"]: d for d in storage.jobs.day_records("daily_update")}["2024-09-04"]
        assert record["status"] == ("empty" if kind == "empty" else "failed") and record["sources"] == {}
        # A network source answering a whole day empty while serving the next one: a closure, not a failure.
        assert code == (0 if kind == "empty" else 1)
    if code == 1:
        assert run["status"] == "failed" and "2024-09-04" in run["error"] and run["failed_day"] == "2024-09-04"
    else:
        assert run["status"] == "completed" and run["suspected_closures"] == ["2024-09-04"]
    if kind in ("timeout", "http_5xx"):
        assert sum(q.day == bad_day for q in source.calls) == 3  # retried, then gave up

    # The fault clears: the next run collects the day and the ones after it.
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 6)), clock) == 0
    assert completed_days(storage)[-3:] == [D(2024, 9, 4), D(2024, 9, 5), D(2024, 9, 6)]


def test_a_stale_answer_repeating_the_previous_session_is_not_stored_as_a_new_day(
    storage, settings, clock, replay, caplog
):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    friday_again = {D(2024, 9, 2): lambda: replay.fetch_raw(Query(D(2024, 8, 30), "KOSPI"))}
    stale = ScriptedSource(replay, "replay", failures=friday_again)
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 3)), clock, chain_of(stale)) == 1
    assert "repeats the closes and volumes of a neighbouring session" in caplog.text
    assert completed_days(storage)[-1] == D(2024, 8, 30) and storage.bars.read_bars("005930", D(2024, 9, 2)) == []
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 3)), clock) == 0
    assert completed_days(storage)[-2:] == [D(2024, 9, 2), D(2024, 9, 3)]


def test_transient_errors_are_retried_with_growing_pauses(replay):
    pauses: list[float] = []
    attempts = iter([TransientSourceError("HTTP 502"), TransientSourceError("HTTP 502")])

    def flaky():
        exc = next(attempts, None)
        if exc:
            raise exc

    source = ScriptedSource(replay, "replay", failures={D(2024, 9, 2): flaky})
    chain = SourceChain([source], min_gap_seconds=0, max_attempts=3, backoff_seconds=5, sleep=pauses.append)
    frame = chain.fetch(Request("KOSPI", (D(2024, 9, 2),)), evening(D(2024, 9, 2))).data
    assert len(frame) > 0 and pauses == [5, 10]


def test_fallback_to_the_next_source_and_a_blocked_source_is_not_called_again(storage, settings, clock, replay):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    blocked = ScriptedSource(
        replay, "krx_openapi", failures={d: FAILURES["blocked"] for d in xkrx().sessions_between(
            D(2024, 9, 1), D(2024, 9, 30))}
    )
    backup = ScriptedSource(replay, "pykrx")
    chain = chain_of(blocked, backup)
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 6)), clock, chain) == 0
    assert len(blocked.calls) == 1 and len(backup.calls) == 10
    last = storage.jobs.day_records("daily_update")[-1]
    assert last["status"] == "completed" and last["sources"] == {"KOSPI": "pykrx", "KOSDAQ": "pykrx"}


def test_a_day_not_yet_published_waits_for_the_next_run(storage, settings, clock, replay):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    next_morning = ScriptedSource(replay, "krx_openapi")
    next_morning.available_at = lambda day: evening(day + dt.timedelta(days=1), hour=8)
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 3)), clock, chain_of(next_morning)) == 0
    assert completed_days(storage)[-1] == D(2024, 9, 2)
    morning = evening(D(2024, 9, 4), hour=9)
    assert run_collection("daily_update", storage, settings, morning, clock, chain_of(next_morning)) == 0
    assert completed_days(storage)[-1] == D(2024, 9, 3)


# --- halts, stuck days, universe ---------------------------------------------------------------------


def test_halted_days_are_stored_as_a_fact_without_prices(storage, make_settings, clock):
    settings = make_settings(setup_history_sessions=30)
    run_collection("manual_setup", storage, settings, evening(D(2024, 3, 15)), clock)
    halted = {b["date"]: b for b in storage.bars.read_bars("000040") if b["halted"]}
    bar = halted[to_utc_midnight(D(2024, 2, 23))]
    assert bar["open"] is None and bar["high"] is None and bar["low"] is None
    assert bar["close"] > 0 and bar["volume"] == 0


def test_a_session_every_source_leaves_empty_is_recorded_as_no_data_after_the_grace_period(
    storage, settings, clock, replay, caplog
):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    missing = D(2024, 9, 3)
    empty = {missing: FAILURES["empty"]}
    within_grace = evening(missing + dt.timedelta(days=settings.missing_day_grace_days))
    source = ScriptedSource(replay, "replay", failures=empty)
    assert run_collection("daily_update", storage, settings, within_grace, clock, chain_of(source)) == 0
    assert completed_days(storage)[-1] == D(2024, 9, 10) and missing not in storage.jobs.done_days("daily_update")

    later = evening(missing + dt.timedelta(days=settings.missing_day_grace_days + 1))
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        assert run_collection("daily_update", storage, settings, later, clock, chain_of(source)) == 0
    assert "NO DATA for session 2024-09-03" in caplog.text and "--redo 2024-09-03" in caplog.text
    statuses = {d["date_kst"]: d["status"] for d in storage.jobs.day_records("daily_update")}
    assert statuses["2024-09-03"] == "no_data" and statuses["2024-09-04"] == "completed"

    # KRX did trade that day after all: --redo collects it.
    fixed = ScriptedSource(replay, "replay")
    assert run_collection("daily_update", storage, settings, later, clock, chain_of(fixed), redo=(missing,)) == 0
    assert {d["date_kst"]: d["status"] for d in storage.jobs.day_records("daily_update")}["2024-09-03"] == "completed"
    assert [q.day for q in fixed.calls] == [missing, missing]


def test_redoing_an_old_day_does_not_roll_the_universe_back(storage, settings, clock):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    run_collection("daily_update", storage, settings, evening(D(2025, 5, 7)), clock)
    before = storage.universe.universe()
    assert run_collection("daily_update", storage, settings, evening(D(2025, 5, 7)), clock, redo=(D(2024, 9, 2),)) == 0
    assert storage.universe.universe() == before and storage.universe.universe_as_of() == D(2025, 5, 7)


def test_a_blocked_source_alone_never_turns_a_day_into_no_data(storage, settings, clock, replay):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    source = ScriptedSource(replay, "replay", failures={D(2024, 9, 2): FAILURES["blocked"]})
    much_later = evening(D(2024, 10, 31))
    assert run_collection("daily_update", storage, settings, much_later, clock, chain_of(source)) == 1
    assert "no_data" not in {d["status"] for d in storage.jobs.day_records("daily_update")}


def test_the_universe_follows_market_caps_and_keeps_the_data_of_leavers(storage, make_settings, clock):
    settings = make_settings(setup_history_sessions=5)
    run_collection("manual_setup", storage, settings, evening(D(2023, 12, 11)), clock)
    before = {t["ticker"]: t for t in storage.universe.universe()}
    run_collection("daily_update", storage, settings, evening(D(2025, 5, 7)), clock)
    after = {t["ticker"]: t for t in storage.universe.universe()}
    panel = ReplaySource(PANEL)
    last_caps = panel.fetch_raw(Query(D(2025, 5, 7), "KOSPI"))
    caps = dict(zip(last_caps["ticker"], last_caps["market_cap"], strict=True))
    for ticker, doc in after.items():
        assert doc["is_active"] == (caps[ticker] >= 1e11), ticker
    joined = [t for t in after if after[t]["is_active"] and t not in before]
    left = [t for t in before if before[t]["is_active"] and not after[t]["is_active"]]
    assert "001530" in joined and "000040" in left
    for ticker in joined:
        assert after[ticker]["added_date"] > "2023-12-11"
    for ticker in left:
        assert after[ticker]["inactive_reason"] == "market cap below threshold"
        assert len(storage.bars.read_bars(ticker)) == len(completed_days(storage))


def test_mongodb_unreachable_is_a_clear_transient_error():
    from lib.storage import Storage

    class Down:
        def __getitem__(self, name):
            return self

        class admin:  # noqa: N801 - mimics client.admin
            @staticmethod
            def command(_name):
                from pymongo.errors import ServerSelectionTimeoutError

                raise ServerSelectionTimeoutError(
                    "localhost:27017: [Errno 111] Connection refused (configured timeouts: socketTimeoutMS: "
                    "10000.0ms, connectTimeoutMS: 10000.0ms), Timeout: 10.0s, Topology Description: "
                    "<TopologyDescription id: 6b04, topology_type: Unknown, servers: [...]>"
                )

    with pytest.raises(TransientSourceError) as raised:
        Storage(Down()).ping()
    assert str(raised.value) == ("MongoDB is not reachable: ServerSelectionTimeoutError: localhost:27017: "
                                 "[Errno 111] Connection refused; is the server running and MONGODB_URI right?")


def test_requests_to_a_source_keep_the_minimum_gap(replay):
    now = {"t": 100.0}
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(round(seconds, 3))
        now["t"] += seconds

    chain = SourceChain([ScriptedSource(replay, "replay")], min_gap_seconds=1.5, sleep=sleep,
                        monotonic=lambda: now["t"])
    for day in (D(2024, 9, 2), D(2024, 9, 3)):
        for market in ("KOSPI", "KOSDAQ"):
            chain.fetch(Request(market, (day,)), evening(day))
            now["t"] += 0.25  # the time it takes to store an answer
    assert pauses == [1.25, 1.25, 1.25]
