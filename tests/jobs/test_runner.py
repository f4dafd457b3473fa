"""The run lifecycle when the database itself fails mid-run: one line and exit 1, never a traceback."""

from __future__ import annotations

import logging

from pymongo.errors import AutoReconnect, NetworkTimeout

from lib.spine.runner import run_job


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
    run = storage.latest_run("daily_update")
    assert run["status"] == "failed" and run["exit_code"] == 1 and run["error"].startswith("MongoDB did not answer")


def test_when_the_run_record_cannot_be_closed_either_the_script_still_exits_1_in_one_line(
    storage, make_settings, clock, caplog, monkeypatch
):
    def lost(*_args, **_kwargs):
        raise AutoReconnect("127.0.0.1:27017: connection closed")

    monkeypatch.setattr(storage, "finish_run", lost)
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
