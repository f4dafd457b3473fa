"""The cron scripts as a user runs them: exit codes, refusals, --today, and the demo."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

import daily_update
import demo
import manual_setup
from lib.log import KST
from lib.storage import Storage, get_client
from tests.conftest import PANEL

ROOT = Path(__file__).resolve().parent.parent


def test_a_script_without_mongodb_uri_refuses_to_run_with_one_log_line(make_settings, capsys):
    settings = make_settings(mongodb_uri=None)
    assert daily_update.main(["--today", "2024-09-02"], settings=settings) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00 daily_update ERROR MONGODB_URI is not set", lines[0])


def test_a_future_today_is_refused(make_settings, capsys):
    future = (dt.datetime.now(KST) + dt.timedelta(days=3)).date().isoformat()
    assert manual_setup.main(["--today", future], settings=make_settings()) == 2
    assert "is in the future" in capsys.readouterr().err


def test_setup_then_update_through_the_scripts_share_the_embedded_database(make_settings):
    settings = make_settings(setup_history_sessions=3)
    assert manual_setup.main(["--today", "2024-08-30"], settings=settings) == 0
    assert daily_update.main(["--today", "2024-09-03"], settings=settings) == 0
    storage = Storage(get_client("mongomock://"))
    assert [d["date_kst"] for d in storage.day_records()][-2:] == ["2024-09-02", "2024-09-03"]
    assert [r["status"] for r in storage.runs()] == ["completed", "completed"]


def test_a_bad_date_argument_is_a_usage_error(make_settings):
    with pytest.raises(SystemExit) as exit_info:
        daily_update.main(["--today", "2024-02-30"], settings=make_settings())
    assert exit_info.value.code == 2


def test_the_demo_runs_setup_and_catch_up_and_prints_what_it_stored(capsys):
    argv = ["--panel", str(PANEL), "--setup-day", "2025-05-30", "--today", "2025-06-16", "--market", "krx"]
    assert demo.main(argv) == 0
    out = capsys.readouterr().out
    assert "trading days completed : 309 (2024-03-06 .. 2025-06-16)" in out
    assert re.search(r"run daily_update\s+completed days=9 bars=", out)
    assert re.search(r"run hourly_analysis\s+completed day=2025-06-16 analysed=\d+ track_records=11", out)
    assert "=== screener macd_golden_cross on 2025-06-16" in out and "track record 20 sessions" in out
    assert "=== check_db" in out and out.rstrip().endswith("Nothing needs attention.")


def test_crontab_runs_on_kst_weekdays_and_continues_friday_night_into_saturday():
    lines = [ln for ln in (ROOT / "crontab.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    assert "CRON_TZ=Asia/Seoul" in lines
    jobs = {tuple(ln.split()[:5]): ln for ln in lines if "python" in ln}
    assert "daily_update.py" in jobs[("0", "19", "*", "*", "1-5")]
    assert "hourly_analysis.py" in jobs[("10", "19-23", "*", "*", "1-5")]
    # after midnight the evening's work goes on: Tuesday..Saturday mornings, not Monday..Friday
    assert "hourly_analysis.py" in jobs[("10", "0-8", "*", "*", "2-6")]
    assert "cleanup.py" in jobs[("30", "9", "*", "*", "*")]
    assert all(">> " in ln and "logs/cron.log 2>&1" in ln for ln in jobs.values())


def test_manual_setup_sessions_option_and_its_bounds(make_settings):
    assert manual_setup.main(["--today", "2024-08-30", "--sessions", "2"], settings=make_settings()) == 0
    storage = Storage(get_client("mongomock://"))
    assert [d["date_kst"] for d in storage.day_records()] == ["2024-08-29", "2024-08-30"]
    with pytest.raises(SystemExit) as exit_info:
        manual_setup.main(["--sessions", "0"], settings=make_settings())
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    "uri", ["mongodb://user:p@ss@localhost/", "mongodb://localhost:abc/", "mongodb://"]
)
def test_a_malformed_mongodb_uri_is_one_line_and_exit_2(make_settings, capsys, uri):
    assert daily_update.main(["--today", "2024-09-02"], settings=make_settings(mongodb_uri=uri)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "ERROR MONGODB_URI is not a usable MongoDB address" in lines[0]
    assert "p@ss" not in lines[0] and "Traceback" not in lines[0]


def test_an_srv_host_that_does_not_resolve_is_a_setting_to_fix(make_settings, capsys, monkeypatch):
    import pymongo
    from pymongo.errors import ConfigurationError

    def unresolvable(*_args, **_kwargs):
        raise ConfigurationError("The DNS query name does not exist: _mongodb._tcp.cluster0.example.net.")

    monkeypatch.setattr(pymongo, "MongoClient", unresolvable)
    settings = make_settings(mongodb_uri="mongodb+srv://app:secret@cluster0.example.net/")
    assert manual_setup.main(["--today", "2024-09-02"], settings=settings) == 2
    err = capsys.readouterr().err
    assert "MONGODB_URI is not a usable MongoDB address: The DNS query name does not exist" in err
    assert "secret" not in err


def test_a_failed_run_says_how_it_ended_without_trailing_blanks(make_settings, capsys):
    assert daily_update.main(["--today", "2024-09-02"], settings=make_settings()) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert re.search(r"daily_update failed \(exit 2\) in \d+\.\ds$", last)
