"""check_db: what a person asks about first, and an exit code a monitor can act on."""

from __future__ import annotations

import datetime as dt
import json

import pymongo.errors

import check_db
import daily_update
import hourly_analysis
import manual_setup
from lib.display import width
from lib.ops.status import gather
from lib.storage import Storage, get_client
from lib.storage.client import StoreBase
from tests.helpers import evening, run_analysis, run_collection
from tests.test_bad_data import old_rejected_doc, rejected

D = dt.date


def set_up(settings, today: str = "2024-09-03", analyse: bool = True) -> None:
    assert manual_setup.main(["--today", "2024-08-30"], settings=settings) == 0
    assert daily_update.main(["--today", today], settings=settings) == 0
    if analyse:
        assert hourly_analysis.main(["--today", today], settings=settings) == 0


def test_a_healthy_pipeline_shows_every_section_and_exits_0(make_settings, capsys):
    settings = make_settings(setup_history_sessions=30)
    set_up(settings)
    capsys.readouterr()
    assert check_db.main(["--today", "2024-09-03"], settings=settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("Pipeline status as of 2024-09-03 23:59")  # --today's evening, not the wall clock
    assert "collected     2024-07-19 .. 2024-09-03: 32 session(s) (32 completed, 0 no_data)" in out
    assert "behind        0 session(s) after 2024-09-03 not collected (latest session 2024-09-03)" in out
    assert "oldest 2024-09-03, latest 2024-09-03; 0 active ticker(s) pending" in out
    assert "analysis lag     0 session(s)" in out
    for job in ("manual_setup", "daily_update", "hourly_analysis"):
        assert any(line.split()[:2] == [job, "completed"] for line in out.splitlines())
    assert "stock_data.<ticker> (21 collections)" in out and "KiB" in out
    assert out.rstrip().endswith("Nothing needs attention.")

    assert check_db.main(["--today", "2024-09-03", "--quiet"], settings=settings) == 0
    assert capsys.readouterr().out == ""
    assert check_db.main(["--today", "2024-09-03", "--json"], settings=settings) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["exit_code"] == 0 and body["attention"] == []
    krx, us, stocks = body["markets"]  # the US datasets, never set up nor named in MARKETS, are listed as such
    assert us["job_name"] == "etf_pipeline" and us["last_day"] is None and us["expected"] is False
    assert stocks["job_name"] == "us_stocks_update" and stocks["last_day"] is None and stocks["expected"] is False
    assert krx["job_name"] == "daily_update" and krx["last_day"] == "2024-09-03" and krx["holes"] == []
    assert {j["job_name"] for j in body["jobs"]} == {"manual_setup", "daily_update", "hourly_analysis"}
    assert body["analysis"]["active"] > 5 and body["jobs"][0]["started_utc"].endswith("Z")


def test_nothing_collected_yet_exits_2_and_says_to_run_manual_setup(make_settings, capsys):
    assert check_db.main(["--quiet"], settings=make_settings()) == 2
    assert "nothing collected yet: run `python manual_setup.py`" in capsys.readouterr().out


def test_a_bad_setting_is_one_line_and_exit_2(make_settings, capsys):
    assert check_db.main([], settings=make_settings(mongodb_uri=None)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MONGODB_URI is not set" in err[0]


def test_a_database_failing_mid_report_is_one_line_and_exit_1(make_settings, monkeypatch, capsys):
    # A monitor's read-only MongoDB user on an install from before the bad-data store: reading it first moves the
    # old quarantine, and the server refuses that write. Before, check_db died with the driver's traceback.
    settings = make_settings()
    get_client("mongomock://")["system_info"]["quarantine"].insert_one(
        {"_id": "005930:2024-09-02", "ticker": "005930", "date": dt.datetime(2024, 9, 2), "date_kst": "2024-09-02",
         "market": "KOSPI", "reason": "close beyond the limit", "bar": {"close": 1}})

    def refuse(_self, what):
        raise pymongo.errors.OperationFailure("not authorized on system_info to execute command", code=13)

    monkeypatch.setattr(StoreBase, "_write", refuse)
    assert check_db.main(["--no-sizes"], settings=settings) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "in-memory database" not in line]
    assert len(err) == 1 and "OperationFailure: not authorized" in err[0] and "try again later" in err[0]
    assert get_client("mongomock://")["system_info"]["quarantine"].count_documents({}) == 1  # nothing lost


def test_refused_records_of_an_older_install_are_shown_by_check_db_without_failing_it(make_settings, capsys):
    # us_etf.logs_rejected_records of an install from before the bad-data store: check_db moves and shows them.
    settings = make_settings()
    set_up(settings)
    assert check_db.main(["--today", "2024-09-03", "--no-sizes"], settings=settings) == 0
    assert "Refused" not in capsys.readouterr().out  # none refused: the report is as before
    seen = dt.datetime(2024, 9, 3, 22)
    get_client("mongomock://")["us_etf"]["logs_rejected_records"].insert_one(
        old_rejected_doc(rejected("XLF"), seen, seen))
    assert check_db.main(["--today", "2024-09-03", "--no-sizes"], settings=settings) == 0  # a look, not exit 1
    out = capsys.readouterr().out
    assert "1 record(s) in system_info.bad_data" in out
    line = next(line for line in out.splitlines() if "XLF" in line)
    assert "us.bars" in line and "2025-07-29" in line and "close is not positive" in line and "XLF.csv line 207" in line
    check_db.main(["--today", "2024-09-03", "--json", "--no-sizes"], settings=settings)
    quarantine = json.loads(capsys.readouterr().out)["quarantine"]
    assert quarantine["refused"] == 1 and quarantine["refused_latest"][0]["key"] == "XLF"
    # A watermark dataset's item refused without a natural key is listed too.
    Storage(get_client("mongomock://")).bad_data.record_rejected(
        [{"dataset": "us.news", "kind": "news", "ticker": None, "date": None, "raw": {"title": "x"},
          "reason": "no id in the item"}], dt.datetime(2024, 9, 4, tzinfo=dt.UTC))
    assert check_db.main(["--today", "2024-09-03", "--no-sizes"], settings=settings) == 0
    out = capsys.readouterr().out
    assert "2 record(s) in system_info.bad_data" in out
    assert any("us.news" in line and "no id in the item" in line for line in out.splitlines())


def test_stale_collection_and_analysis_lag_need_attention(make_settings, capsys):
    settings = make_settings(setup_history_sessions=30)
    set_up(settings)
    capsys.readouterr()
    # a week later nothing more was collected
    assert check_db.main(["--today", "2024-09-10", "--quiet"], settings=settings) == 1
    [line] = capsys.readouterr().out.splitlines()
    assert "stale: 4 session(s) after the last collected day 2024-09-03 are not collected" in line
    # the evening after, one session behind: normal
    assert check_db.main(["--today", "2024-09-04", "--quiet"], settings=settings) == 0
    # collection catches up but the analysis does not run
    assert daily_update.main(["--today", "2024-09-10"], settings=settings) == 0
    capsys.readouterr()
    assert check_db.main(["--today", "2024-09-10", "--quiet"], settings=settings) == 1
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("ATTENTION analysis: 5 collected session(s) not fully analysed")


def test_holes_no_data_days_failed_and_stuck_runs_each_say_what_to_do(storage, make_settings, clock):
    settings = make_settings(setup_history_sessions=10)
    run_collection("manual_setup", storage, settings, evening(D(2024, 9, 6)), clock)
    storage.jobs.forget_day(D(2024, 9, 2), job="daily_update")
    storage.jobs.mark_day(D(2024, 9, 3), "no_data", {"error": "every source answered empty"}, job="daily_update")
    for _ in range(3):
        storage.locks.delete_many({})
        run_collection("daily_update", storage, settings, evening(D(1999, 1, 4)), clock)  # outside the calendar
    storage.jobs.start_run("cleanup_1", {"job_name": "cleanup", "start_time_utc": dt.datetime(2025, 6, 16)})
    storage.jobs.finish_run("cleanup_1", {"status": "completed", "failed": 2})
    killed = {"job_name": "hourly_analysis", "start_time_utc": dt.datetime(2025, 6, 16)}
    storage.jobs.start_run("hourly_analysis_killed", killed)

    status = gather(storage, settings, clock(), D(2024, 9, 6), sizes=False)
    text = "\n".join(status.attention)
    assert status.exit_code == 1
    assert "1 session(s) missing inside the collected range: 2024-09-02" in text
    assert "2024-09-03 is recorded no_data but the calendar calls it a session" in text
    assert "--redo 2024-09-03" in text and "KRX_EXTRA_CLOSED_DAYS" in text
    assert "daily_update: the last run failed since" in text and "3 run(s) in a row" in text
    assert "hourly_analysis: a run started" in text and "lock is gone" in text
    assert "cleanup: the last run completed but 2 item(s) failed in it" in text

    # the user confirms the closure: the no_data day no longer needs attention
    closed = make_settings(setup_history_sessions=10, krx_extra_closed_days="2024-09-03", alert_strategies="nope")
    again = gather(storage, closed, clock(), D(2024, 9, 6), sizes=False)
    assert not any("2024-09-03" in line for line in again.attention)
    assert "ALERT_STRATEGIES names 'nope', which is no strategy; known: adx_trend," in "\n".join(again.attention)


def test_every_market_with_day_records_shows_up_even_without_a_known_calendar(storage, make_settings, clock):
    settings = make_settings(setup_history_sessions=3)
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    storage.job_status.insert_many([
        {"_id": f"2025-06-1{d}_us_etf", "kind": "day", "job_name": "us_etf", "date_kst": f"2025-06-1{d}",
         "status": "completed"} for d in (2, 3)
    ])
    storage.jobs.start_run("us_etf_1", {"job_name": "us_etf", "start_time_utc": dt.datetime(2025, 6, 14)})
    storage.jobs.finish_run("us_etf_1", {"status": "completed", "end_time_utc": dt.datetime(2025, 6, 14, 0, 5)})
    status = gather(storage, settings, clock(), D(2024, 8, 30), sizes=False)
    us = next(m for m in status.markets if m.job_name == "us_etf")
    assert (us.first_day, us.last_day, us.completed, us.holes) == (D(2025, 6, 12), D(2025, 6, 13), 2, None)
    assert "us_etf" in {j.job_name for j in status.jobs}
    from lib.ops.status_view import render_text

    assert "missing       calendar unknown" in render_text(status)


def test_sizes_cover_every_collection_family(storage, make_settings, clock):
    settings = make_settings(setup_history_sessions=3)
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    run_analysis(storage, settings, evening(D(2024, 8, 30), 22), clock)
    sizes = {s.name: s for s in storage.sizes.collection_sizes()}
    assert {"system_info.job_status", "system_info.target_tickers", "stock_data.<ticker>",
            "stock_analyzed.screening_index", "stock_analyzed.<ticker>"} <= set(sizes)
    bars = sizes["stock_data.<ticker>"]
    assert bars.collections == len(storage.bars.stored_tickers())
    assert bars.documents == sum(storage.stock_db[t].count_documents({}) for t in storage.bars.stored_tickers())
    assert bars.data_bytes > 100 * bars.documents  # a bar is a dozen fields


def test_names_in_korean_keep_the_columns_aligned():
    from lib.display import table

    text = table(["ticker", "name", "close"], [["005930", "삼성전자", "53,000"], ["000660", "SK하이닉스", "1,200"]],
                 right=(2,))
    lines = text.splitlines()
    assert len({width(line) for line in lines}) == 1  # every row ends at the same column
    assert lines[1].index("삼성전자") == lines[2].index("SK하이닉스")


def test_check_db_reads_the_shared_store_the_scripts_wrote(make_settings, capsys):
    settings = make_settings(setup_history_sessions=3)
    assert manual_setup.main(["--today", "2024-08-30"], settings=settings) == 0
    Storage(get_client("mongomock://")).jobs.forget_day(D(2024, 8, 29), job="daily_update")
    capsys.readouterr()
    assert check_db.main(["--today", "2024-08-30", "--no-sizes"], settings=settings) == 1
    out = capsys.readouterr().out
    assert "Database size" not in out and "Needs attention (" in out and "2024-08-29" in out


def test_quarantined_bars_are_shown_with_their_count_and_reason_but_do_not_fail_check_db(
    make_settings, tmp_path, capsys
):
    import pandas as pd

    from tests.conftest import PANEL

    settings = make_settings(setup_history_sessions=5)
    assert manual_setup.main(["--today", "2024-08-30"], settings=settings) == 0
    panel = pd.read_parquet(PANEL)
    wrong = panel["ticker"].isin(["005930", "000660"]) & (panel["date"] == "2024-09-02")
    panel.loc[wrong, "close"] *= 2  # a file with two closes of a day doubled
    panel.to_parquet(tmp_path / "wrong.parquet")
    corrupt = make_settings(krx_replay_path=tmp_path / "wrong.parquet")
    assert daily_update.main(["--today", "2024-09-03"], settings=corrupt) == 0
    capsys.readouterr()

    assert check_db.main(["--today", "2024-09-03", "--no-sizes"], settings=settings) == 0
    out = capsys.readouterr().out
    section = out.split("Quarantined bars (refused by the price-limit check, kept out of stock_data)\n")[1]
    lines = section.splitlines()
    assert lines[0].startswith("  2 bar(s) held in system_info.bad_data") and "--redo DAY" in lines[0]
    assert lines[1].split() == ["day", "ticker", "market", "reason"]
    assert lines[2].split()[:3] == ["2024-09-02", "000660", "KOSPI"] and "+100.3%" in lines[2]
    assert lines[3].split()[:3] == ["2024-09-02", "005930", "KOSPI"]
    assert "close 148,800 is +100.3% from the previous close 74,300" in lines[3]
    assert out.rstrip().endswith("Nothing needs attention.")
    assert check_db.main(["--today", "2024-09-03", "--quiet"], settings=settings) == 0
    assert capsys.readouterr().out == ""
    assert check_db.main(["--today", "2024-09-03", "--json", "--no-sizes"], settings=settings) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["quarantine"]["count"] == 2 and body["exit_code"] == 0
    assert body["quarantine"]["latest"][1] == {
        "ticker": "005930", "day": "2024-09-02", "market": "KOSPI", "reason": body["quarantine"]["latest"][1]["reason"]}

    # a redo with the fixed file releases them
    assert daily_update.main(["--today", "2024-09-03", "--redo", "2024-09-02"], settings=settings) == 0
    capsys.readouterr()
    assert check_db.main(["--today", "2024-09-03", "--no-sizes"], settings=settings) == 0
    assert "kept out of stock_data)\n  none\n" in capsys.readouterr().out


def test_the_ai_predictions_block_is_off_without_models_and_shows_the_batch_and_what_waits(storage, make_settings,
                                                                                            clock):
    from api.status import PipelineStatus
    from lib.ops.status_view import render_text, to_plain
    from tests.predictions_data import CONSTANT, FUTURE, prediction, store_leaderboard

    off = gather(storage, make_settings(), clock(), D(2024, 12, 20), sizes=False)
    assert off.ai_predictions.off.startswith("AI_PREDICT_MODELS is blank")
    assert "state  off: AI_PREDICT_MODELS is blank" in render_text(off)

    settings = make_settings(ai_predict_models=f"{FUTURE},{CONSTANT}")
    for ticker in ("005930", "000660"):  # an older batch, every horizon scored
        storage.predictions.save_prediction(prediction(D(2024, 11, 25), ticker, FUTURE))
    newest = D(2024, 12, 19)
    storage.predictions.save_prediction(prediction(newest, "005930", FUTURE, with_outcomes=False))
    storage.predictions.save_prediction(prediction(newest, "005930", CONSTANT, status="failed"))
    storage.predictions.save_prediction(prediction(newest, "000660", FUTURE, late=True))
    started = dt.datetime(2024, 12, 19, 12, 10)
    storage.jobs.start_run("p1", {"job_name": "ai_predict", "start_time_utc": started})
    storage.jobs.finish_run("p1", {"status": "completed", "end_time_utc": started + dt.timedelta(minutes=3)})
    storage.jobs.start_run("e1", {"job_name": "ai_evaluate", "start_time_utc": started})
    storage.jobs.finish_run("e1", {"status": "failed", "error": "the database is not reachable"})
    store_leaderboard(storage, dt.datetime(2024, 12, 19, 10, 40), [D(2024, 11, 25)])

    status = gather(storage, settings, clock(), D(2024, 12, 20), sizes=False)
    block = status.ai_predictions
    assert (block.off, block.batch_day, block.batch_stored, block.batch_failed, block.batch_late) == (
        None, newest, 3, 1, 1)
    assert block.waiting == 1 and block.leaderboard_rows == 6  # the late and the failed ones never wait
    assert block.predict_run.status == "completed" and block.evaluate_run.status == "failed"
    text = render_text(status)
    assert f"models        {FUTURE}, {CONSTANT}" in text
    assert "last batch    completed, started 2024-12-19 21:10 KST" in text
    assert "stored        3 prediction(s) for 2024-12-19 (1 failed, 1 late: never scored)" in text
    assert "waiting       1 prediction(s) wait for their 20-session outcome" in text
    assert "last scoring  failed, started 2024-12-19 21:10 KST: the database is not reachable" in text
    assert "leaderboard   6 row(s), computed 2024-12-19 19:40 KST" in text
    body = to_plain(status)  # check_db --json and GET /status
    assert body["ai_predictions"]["waiting"] == 1 and body["ai_predictions"]["batch_day"] == "2024-12-19"
    assert body["ai_predictions"]["leaderboard_computed_utc"] == "2024-12-19T10:40:00Z"
    served = PipelineStatus.model_validate(body).model_dump(mode="json")["ai_predictions"]
    assert served["batch_stored"] == 3 and served["predict_run"]["status"] == "completed"

    # turned off with predictions stored: ai_evaluate still scores them, so the figures stay beside the why
    later = gather(storage, make_settings(), clock(), D(2024, 12, 20), sizes=False)
    assert later.ai_predictions.off.startswith("AI_PREDICT_MODELS is blank") and later.ai_predictions.waiting == 1
    text = render_text(later)
    assert "models        off: AI_PREDICT_MODELS is blank" in text
    assert "waiting       1 prediction(s) wait for their 20-session outcome" in text
