"""Days that cannot be served never hold back the others: closures the calendar does not know, half-delivered
days, files that hold one market, end early, lack a day or carry a bad value; --redo anywhere in a file."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from lib.markets.krx.replay import ReplaySource
from lib.markets.krx.source_base import COLUMNS, Query
from lib.markets.krx.sources import build_chain
from lib.spine.calendar import TradingCalendar, _exchange
from tests.conftest import PANEL
from tests.helpers import ScriptedSource, evening, run_analysis, run_collection
from tests.spine.test_collect import chain_of, completed_days

D = dt.date
ELECTION = D(2025, 6, 3)  # KRX closed for the presidential election


def wrong_calendar(*extra_closed: dt.date) -> TradingCalendar:
    """XKRX as a lagging exchange-calendars would have it: it still calls election day a session."""
    _, closes = _exchange("XKRX")
    return TradingCalendar(
        extra_closed=extra_closed, base_sessions=[*closes, ELECTION], exchange="XKRX", settings_prefix="KRX"
    )


def statuses(storage) -> dict[str, str]:
    return {d["date_kst"]: d["status"] for d in storage.jobs.day_records("daily_update")}


def analysed(storage, day: dt.date) -> list[str]:
    return [
        t["ticker"] for t in storage.universe.universe(active_only=True) if t["last_analyzed_date"] == day.isoformat()
    ]


def test_a_closure_the_calendar_does_not_know_holds_back_nothing_and_is_named_at_once(
    storage, settings, clock, replay, caplog
):
    calendar = wrong_calendar()
    network = ScriptedSource(replay, "pykrx")  # a network source over the real days: it has no 2025-06-03
    setup_day = evening(D(2025, 5, 30))
    run_collection("manual_setup", storage, settings, setup_day, clock, chain_of(network), calendar=calendar)
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        code = run_collection("daily_update", storage, settings, evening(D(2025, 6, 5)), clock, chain_of(network),
                              calendar=calendar)
    assert code == 0
    assert completed_days(storage)[-3:] == [D(2025, 6, 2), D(2025, 6, 4), D(2025, 6, 5)]
    assert statuses(storage)["2025-06-03"] == "empty" and ELECTION not in storage.jobs.done_days("daily_update")
    assert "CLOSED? every source answers the whole KRX market empty for 2025-06-03" in caplog.text
    assert "Add `KRX_EXTRA_CLOSED_DAYS=2025-06-03` to .env" in caplog.text
    assert storage.jobs.runs()[0]["suspected_closures"] == ["2025-06-03"]

    # Meanwhile the analysis runs for the latest collected session.
    assert run_analysis(storage, settings, evening(D(2025, 6, 5), 20), clock, chain_of(network), calendar) == 0
    assert sorted(analysed(storage, D(2025, 6, 5))) == sorted(t["ticker"] for t in storage.universe.universe(
        active_only=True
    ))

    # The next evening asks the day again (still pending), and collects the new session.
    network.calls.clear()
    assert run_collection("daily_update", storage, settings, evening(D(2025, 6, 9)), clock, chain_of(network),
                          calendar=calendar) == 0
    assert [q.day for q in network.calls] == [ELECTION, ELECTION, D(2025, 6, 9), D(2025, 6, 9)]

    # The user adds the line: the day is no longer a session, its pending record goes, nothing is asked.
    fixed = wrong_calendar(ELECTION)
    network.calls.clear()
    assert run_collection("daily_update", storage, settings, evening(D(2025, 6, 9)), clock, chain_of(network),
                          calendar=fixed) == 0
    assert network.calls == [] and "2025-06-03" not in statuses(storage)


def test_an_unknown_closure_left_alone_is_settled_as_no_data_after_the_grace_period(
    storage, settings, clock, replay, caplog
):
    calendar = wrong_calendar()
    network = ScriptedSource(replay, "pykrx")
    setup_day = evening(D(2025, 6, 5))
    run_collection("manual_setup", storage, settings, setup_day, clock, chain_of(network), calendar=calendar)
    assert statuses(storage)["2025-06-03"] == "empty"
    later = evening(ELECTION + dt.timedelta(days=settings.missing_day_grace_days + 1))
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        code = run_collection("daily_update", storage, settings, later, clock, chain_of(network), calendar=calendar)
    assert code == 0
    assert statuses(storage)["2025-06-03"] == "no_data"
    assert "NO DATA for session 2025-06-03" in caplog.text and "KRX_EXTRA_CLOSED_DAYS=2025-06-03" in caplog.text


def test_a_half_delivered_day_keeps_what_was_delivered_and_asks_only_for_the_rest(storage, settings, clock, replay):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    day = D(2024, 9, 3)
    kosdaq_empty = {(day, "KOSDAQ"): lambda: pd.DataFrame(columns=[*COLUMNS, "date"])}
    flaky = ScriptedSource(replay, "pykrx", failures=kosdaq_empty)
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 5)), clock, chain_of(flaky)) == 1
    record = {d["date_kst"]: d for d in storage.jobs.day_records("daily_update")}["2024-09-03"]
    assert record["status"] == "partial" and record["sources"] == {"KOSPI": "pykrx"}
    assert "KOSDAQ" in record["missing"] and record["rows"] > 0
    assert storage.bars.read_bars("005930", day, day)[0]["close"] > 0  # KOSPI's bars are stored
    assert storage.bars.read_bars("196170", day, day) == []  # KOSDAQ's are not
    assert completed_days(storage)[-2:] == [D(2024, 9, 4), D(2024, 9, 5)]
    assert storage.jobs.runs()[0]["failed_day"] == "2024-09-03"

    healed = ScriptedSource(replay, "pykrx")
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 5)), clock, chain_of(healed)) == 0
    assert healed.calls == [Query(day, "KOSDAQ")]
    record = {d["date_kst"]: d for d in storage.jobs.day_records("daily_update")}["2024-09-03"]
    assert record["status"] == "completed" and record["sources"] == {"KOSPI": "pykrx", "KOSDAQ": "pykrx"}
    full = run_collection_rows(replay, day)
    assert record["rows"] == full and "missing" not in record
    assert storage.bars.read_bars("196170", day, day)[0]["close"] > 0


def test_a_first_session_the_setup_could_not_collect_is_collected_by_the_next_run(storage, settings, clock, replay):
    # Pending days started at the first *completed* day, so the setup window's own first session, left partial
    # by a source that failed it, was never asked again.
    first = D(2024, 8, 26)
    kosdaq_empty = {(first, "KOSDAQ"): lambda: pd.DataFrame(columns=[*COLUMNS, "date"])}
    flaky = ScriptedSource(replay, "pykrx", failures=kosdaq_empty)
    assert run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock, chain_of(flaky)) == 1
    assert statuses(storage)["2024-08-26"] == "partial"
    healed = ScriptedSource(replay, "pykrx")
    assert run_collection("daily_update", storage, settings, evening(D(2024, 8, 30)), clock, chain_of(healed)) == 0
    assert healed.calls == [Query(first, "KOSDAQ")]
    assert statuses(storage)["2024-08-26"] == "completed"


def run_collection_rows(replay: ReplaySource, day: dt.date) -> int:
    rows = 0
    for market in ("KOSPI", "KOSDAQ"):
        query = Query(day, market)
        rows += len(replay.validate(replay.normalise(replay.fetch_raw(query), query), query))
    return rows


def test_a_market_a_source_never_serves_past_the_grace_period_gives_the_day_up_keeping_the_other(
    storage, settings, clock, replay, caplog
):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    day = D(2024, 9, 3)
    kosdaq_empty = ScriptedSource(replay, "pykrx", failures={(day, "KOSDAQ"): lambda: pd.DataFrame(columns=COLUMNS)})
    later = evening(day + dt.timedelta(days=settings.missing_day_grace_days + 1))
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        assert run_collection("daily_update", storage, settings, later, clock, chain_of(kosdaq_empty)) == 0
    record = {d["date_kst"]: d for d in storage.jobs.day_records("daily_update")}["2024-09-03"]
    assert record["status"] == "no_data" and record["no_data_parts"] == ["KOSDAQ"]
    assert record["sources"] == {"KOSPI": "pykrx"} and storage.bars.read_bars("005930", day, day)
    assert "NO DATA for session 2024-09-03: every source still answers KOSDAQ empty" in caplog.text


def test_a_file_holding_one_market_imports_it_and_leaves_the_other_alone(
    storage, make_settings, clock, tmp_path, caplog
):
    kospi = tmp_path / "kospi.csv"
    panel = pd.read_parquet(PANEL)
    panel.loc[panel["market"] == "KOSPI"].to_csv(kospi, index=False)
    settings = make_settings(setup_history_sessions=20, krx_replay_path=kospi)
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        assert run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock) == 0
    assert len(completed_days(storage)) == 20
    record = storage.jobs.day_records("daily_update")[-1]
    assert record["sources"] == {"KOSPI": "replay"} and record["out_of_range"] == ["KOSDAQ"]
    assert "KOSDAQ: no configured source serves it for 20 session(s)" in caplog.text
    assert storage.bars.read_bars("005930") and storage.bars.read_bars("196170") == []
    universe = storage.universe.universe(active_only=True)
    assert universe and {t["market"] for t in universe} == {"KOSPI"}
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 6)), clock) == 0
    assert completed_days(storage)[-1] == D(2024, 9, 6)


def test_a_file_that_ends_long_before_today_is_collected_up_to_its_end(storage, settings, clock, caplog):
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        assert run_collection("manual_setup", storage, settings, evening(D(2025, 9, 1)), clock) == 0
    assert completed_days(storage)[-1] == D(2025, 6, 16) and len(completed_days(storage)) == 5
    assert "the configured sources end at 2025-06-16 (replay: 2025-06-16)" in caplog.text
    storage.jobs.forget_day(D(2025, 6, 16), job="daily_update")
    assert run_collection("daily_update", storage, settings, evening(D(2025, 10, 1)), clock) == 0
    assert completed_days(storage)[-1] == D(2025, 6, 16)


def test_a_day_missing_from_a_file_is_named_with_its_fix_and_never_settled_by_waiting(
    storage, make_settings, clock, tmp_path, caplog
):
    holed = tmp_path / "holed.csv"
    panel = pd.read_parquet(PANEL)
    panel.loc[panel["date"] != "2024-09-03"].to_csv(holed, index=False)
    settings = make_settings(setup_history_sessions=5, krx_replay_path=holed)
    long_after = evening(D(2025, 2, 28))  # months past any grace period
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        assert run_collection("manual_setup", storage, settings, evening(D(2024, 9, 6)), clock) == 2
        assert run_collection("daily_update", storage, settings, long_after, clock) == 2
    assert "2024-09-03" not in {d.isoformat() for d in storage.jobs.done_days("daily_update")}
    assert statuses(storage)["2024-09-03"] == "empty"
    assert completed_days(storage)[-1] == D(2025, 2, 28)
    assert "holed.csv has no KOSPI rows for this session" in caplog.text
    assert "add its rows to the file" in caplog.text and "KRX_EXTRA_CLOSED_DAYS=2024-09-03" in caplog.text

    panel.to_csv(holed, index=False)  # the user puts the day back
    fixed = make_settings(setup_history_sessions=5, krx_replay_path=holed)
    assert run_collection("daily_update", storage, fixed, long_after, clock) == 0
    assert statuses(storage)["2024-09-03"] == "completed"


def test_a_non_numeric_close_or_a_negative_volume_names_the_ticker_and_the_line(
    storage, make_settings, clock, tmp_path, caplog
):
    bad = tmp_path / "bad.csv"
    panel = pd.read_parquet(PANEL).reset_index(drop=True)
    panel["close"] = panel["close"].astype(object)
    row = panel.index[(panel["date"] == "2024-09-03") & (panel["ticker"] == "005930")][0]
    panel.loc[row, "close"] = "7O300"
    panel.loc[(panel["date"] == "2024-09-04") & (panel["ticker"] == "196170"), "volume"] = -5
    panel.to_csv(bad, index=False)
    settings = make_settings(setup_history_sessions=5, krx_replay_path=bad)
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        assert run_collection("manual_setup", storage, settings, evening(D(2024, 9, 6)), clock) == 2
    assert f"close is not a number for 005930 (bad.csv line {row + 2}: '7O300')" in caplog.text
    assert "negative volume for 196170 (bad.csv line" in caplog.text and ": -5.0)" in caplog.text
    statuses_now = statuses(storage)
    assert statuses_now["2024-09-03"] == "partial" and statuses_now["2024-09-04"] == "partial"
    assert statuses_now["2024-09-05"] == "completed"


def test_a_file_is_read_at_full_speed(storage, make_settings, clock):
    settings = make_settings(setup_history_sessions=20, krx_min_request_gap_seconds=1.0)
    pauses: list[float] = []
    chain = build_chain(settings, sleep=pauses.append)
    assert run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock, chain) == 0
    assert chain.calls["replay"] == 40 and pauses == []


def test_redo_reaches_before_the_first_stored_day_but_not_before_the_file(storage, settings, clock, caplog):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    assert run_collection("daily_update", storage, settings, evening(D(2024, 8, 30)), clock, redo=(D(2024, 3, 4),)) == 0
    assert statuses(storage)["2024-03-04"] == "completed" and storage.bars.read_bars("005930", D(2024, 3, 4), D(
        2024, 3, 4
    ))
    assert "2024-03-05" not in statuses(storage)  # only the day asked for
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        code = run_collection("daily_update", storage, settings, evening(D(2024, 8, 30)), clock, redo=(D(2023, 11, 1),))
    assert code == 2 and "--redo 2023-11-01: before the first session the configured sources can serve" in caplog.text


def test_rows_without_a_close_are_logged_once_per_batch_and_only_when_there_are_some(
    storage, make_settings, clock, tmp_path, caplog
):
    settings = make_settings(setup_history_sessions=5)
    with caplog.at_level(logging.INFO, logger="pipeline"):
        assert run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock) == 0
    assert "without a close" not in caplog.text
    caplog.clear()
    zeroed = tmp_path / "zeroed.csv"
    panel = pd.read_parquet(PANEL)
    panel.loc[(panel["date"] == "2024-09-03") & (panel["ticker"] == "005930"), ["open", "high", "low", "close"]] = 0
    panel.to_csv(zeroed, index=False)
    settings = make_settings(setup_history_sessions=5, krx_replay_path=zeroed)
    with caplog.at_level(logging.INFO, logger="pipeline"):
        assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 6)), clock) == 0
    lines = [r.getMessage() for r in caplog.records if "without a close" in r.getMessage()]
    assert lines == ["row(s) without a close dropped: KOSPI 2024-09-03: 1"]


def test_redo_of_a_far_future_day_says_it_is_not_due_yet_and_a_holiday_is_named(storage, settings, clock, caplog):
    assert run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock) == 0
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        assert run_collection("daily_update", storage, settings, evening(D(2024, 8, 30)), clock,
                              redo=(D(2030, 1, 2),)) == 2
        assert run_collection("daily_update", storage, settings, evening(D(2024, 8, 30)), clock,
                              redo=(D(2024, 8, 24),)) == 2
    assert ("--redo 2030-01-02: that day has not been traded and published yet (the latest session due now is "
            "2024-08-30); --redo collects again a day already due") in caplog.text
    assert "calendar" not in caplog.text.split("2030-01-02")[1].splitlines()[0]
    assert "--redo 2024-08-24: a Saturday that is not a KRX trading day (weekend or holiday)" in caplog.text
