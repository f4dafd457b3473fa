"""Logs: one line per event on stderr, and WARNING-and-above also in LOG_WARNINGS_FILE when it is set."""

from __future__ import annotations

import re

import daily_update
from lib.storage import Storage, get_client

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00 daily_update (WARNING|ERROR) ")


def test_warnings_and_errors_also_go_to_their_own_file_in_the_same_format(make_settings, tmp_path, capsys):
    path = tmp_path / "warnings.log"
    settings = make_settings(log_warnings_file=path)
    assert daily_update.main(["--today", "2024-09-02"], settings=settings) == 2  # before manual_setup: an ERROR
    err = capsys.readouterr().err.splitlines()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert any(" INFO " in line for line in err)  # stderr keeps every event
    assert lines and all(LINE.match(line) for line in lines)
    assert any("ERROR no collected day in job_status yet" in line for line in lines)
    assert [ln for ln in err if " WARNING " in ln or " ERROR " in ln] == lines

    # appended, never truncated, so logrotate's copytruncate works
    assert daily_update.main(["--today", "2024-09-02"], settings=settings) == 2
    assert path.read_text(encoding="utf-8").splitlines()[: len(lines)] == lines


def test_a_warnings_file_that_cannot_be_opened_is_one_line_exit_2_and_a_recorded_stop(make_settings, tmp_path, capsys):
    settings = make_settings(log_warnings_file=tmp_path / "no-such-folder" / "warnings.log")
    assert daily_update.main(["--today", "2024-09-02"], settings=settings) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    # the embedded store's own warning aside (a real MONGODB_URI has none), the stop is one line
    [line] = [ln for ln in lines if "MONGODB_URI=mongomock://" not in ln]
    assert " ERROR LOG_WARNINGS_FILE=" in line and "cannot open it for appending" in line
    run = Storage(get_client("mongomock://")).jobs.latest_run("daily_update")
    assert run["status"] == "failed" and run["exit_code"] == 2 and run["stopped_before_start"] is True


def test_a_relative_warnings_file_is_under_the_project_folder(make_settings):
    from lib.config import PROJECT_ROOT

    assert make_settings(log_warnings_file="logs/warnings.log").log_warnings_file == PROJECT_ROOT / "logs/warnings.log"
    assert make_settings(log_warnings_file="").log_warnings_file is None
