"""The run lifecycle when the database itself fails mid-run: one line and exit 1, never a traceback."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from pymongo.errors import AutoReconnect, NetworkTimeout

from lib.spine.runner import JobContext, run_job

NEW_YORK = ZoneInfo("America/New_York")


def _stalls(ctx) -> None:
    raise NetworkTimeout("127.0.0.1:27017: timed out (configured timeouts: socketTimeoutMS: 20000.0ms)")


def test_a_database_that_stalls_mid_run_is_one_transient_line_and_the_run_is_closed(
    storage, make_settings, clock, caplog
):
    caplog.set_level(logging.INFO)
    code = run_job("daily_update", make_settings(), storage, clock(), clock, _stalls, lock_name="stock_data_collection")
    assert code == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "MongoDB did not answer in time during the run: NetworkTimeout: 127.0.0.1:27017: timed out; try again later"
    ]
    assert all(r.exc_info is None for r in errors)  # no traceback: it is not a bug
    run = storage.jobs.latest_run("daily_update")
    assert run["status"] == "failed" and run["exit_code"] == 1 and run["error"].startswith("MongoDB did not answer")


def test_when_the_run_record_cannot_be_closed_either_the_script_still_exits_1_in_one_line(
    storage, make_settings, clock, caplog, monkeypatch
):
    def lost(*_args, **_kwargs):
        raise AutoReconnect("127.0.0.1:27017: connection closed")

    monkeypatch.setattr(storage.jobs, "finish_run", lost)
    code = run_job("daily_update", make_settings(), storage, clock(), clock, _stalls, lock_name="stock_data_collection")
    assert code == 1
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert messages[-1] == (
        "MongoDB failed during the run: AutoReconnect: 127.0.0.1:27017: connection closed; try again later; "
        "the run record stays open until the next run takes over the lock"
    )


def test_a_bug_in_a_job_still_logs_its_traceback(storage, make_settings, clock, caplog):
    def bug(ctx) -> None:
        raise KeyError("close")

    assert run_job("daily_update", make_settings(), storage, clock(), clock, bug, lock_name="collection") == 1
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == "unexpected error" and record.exc_info is not None


def test_a_source_key_in_an_unexpected_errors_text_never_reaches_the_run_record(storage, make_settings, clock):
    def bug(ctx) -> None:  # e.g. an exception a client did not expect, its message holding the request's URL
        raise RuntimeError("https://ecos.bok.or.kr/api/StatisticSearch/ECOSKEY1234/json/kr/1/10")

    settings = make_settings(ecos_api_key="ECOSKEY1234")
    assert run_job("krx_macro", settings, storage, clock(), clock, bug, lock_name="krx_macro") == 1
    error = storage.jobs.latest_run("krx_macro")["error"]
    assert "ECOSKEY1234" not in error and "StatisticSearch/<ECOS_API_KEY>/json" in error


def test_the_after_run_hook_sees_the_run_and_a_failing_one_never_changes_the_exit_code(
    storage, make_settings, clock, caplog
):
    seen = []
    as_of = dt.datetime(2025, 6, 13, 23, 59, tzinfo=NEW_YORK)
    assert run_job("toy", make_settings(), storage, as_of, clock, lambda ctx: None, lock_name="toy",
                   after=lambda *args: seen.append(args)) == 0
    [(_, hooked_storage, _, hooked_as_of)] = seen
    assert hooked_storage is storage and hooked_as_of == as_of

    def broken_notifier(*_args) -> None:
        raise RuntimeError("telegram is down")

    assert run_job("toy", make_settings(), storage, as_of, clock, lambda ctx: None, lock_name="toy",
                   after=broken_notifier) == 0
    assert storage.jobs.latest_run("toy")["status"] == "completed"
    assert "after-run step failed (RuntimeError: telegram is down)" in caplog.text


def test_a_run_records_the_date_in_its_datasets_zone():
    """New York's Friday evening is Saturday morning in Seoul: a US run's record holds Friday (`date_kst` keeps
    its name)."""
    as_of = dt.datetime(2025, 6, 13, 20, 0, tzinfo=NEW_YORK)
    assert JobContext("x", None, None, as_of, None, "id", "lock", tz=NEW_YORK).today == dt.date(2025, 6, 13)
    assert JobContext("x", None, None, as_of, None, "id", "lock", tz=ZoneInfo("Asia/Seoul")).today == dt.date(
        2025, 6, 14)
