"""A cron run that stops before its job starts (a setting or file a person must fix) is recorded as a failed
run and alerted once per streak, like a failure inside the job; the real scripts, a local Telegram/webhook stub."""

from __future__ import annotations

import datetime as dt

import pytest

import daily_update
import etf_pipeline
import manual_setup
from lib.log import KST
from lib.ops.status import gather
from lib.spine.stops import redact
from lib.storage import Storage, get_client
from tests.notify_stub import serve_stub

TOKEN = "123456:SECRET-token"


def test_a_corrupt_replay_file_alerts_once_per_streak_and_the_fixed_run_says_it_works_again(
    make_settings, tmp_path, capsys
):
    corrupt = tmp_path / "panel.parquet"
    corrupt.write_bytes(b"not a parquet file")
    with serve_stub() as stub:
        channels = {"telegram_bot_token": TOKEN, "telegram_chat_id": "42", "telegram_api_url": stub.url,
                    "alert_webhook_url": f"{stub.url}/hooks/private-path?key=hush", "alert_timeout_seconds": 5}
        good = make_settings(setup_history_sessions=3, **channels)
        bad = make_settings(krx_replay_path=corrupt, **channels)
        assert manual_setup.main(["--today", "2024-08-30"], settings=good) == 0
        assert stub.posts == []

        # two cron runs with the corrupt file: each exits 2, one message per channel for the streak
        assert daily_update.main(["--today", "2024-09-03"], settings=bad) == 2
        assert daily_update.main(["--today", "2024-09-03"], settings=bad) == 2
        [telegram] = stub.messages("telegram")
        [hook] = stub.messages("webhook")
        assert "daily_update failed\ndaily_update stopped before it started (run of " in telegram["text"]
        assert f"KRX_REPLAY_PATH: cannot read {corrupt}" in telegram["text"]
        assert "This needs a person (exit 2)" in telegram["text"]
        assert hook["kind"] == "job_failed" and hook["details"]["needs_human"] is True
        sent = str([body for _path, body in stub.posts])
        assert TOKEN not in sent and "private-path" not in sent
        storage = Storage(get_client("mongomock://"))
        stops = storage.jobs.runs("daily_update")
        assert [(r["status"], r["exit_code"], r["stopped_before_start"]) for r in stops] == [("failed", 2, True)] * 2
        assert stops[0]["date_kst"] == "2024-09-03" and "KRX_REPLAY_PATH" in stops[0]["error"]
        status = gather(storage, good, dt.datetime.now(dt.UTC), dt.date(2024, 9, 3), sizes=False)
        assert any(line.startswith("daily_update: the last run failed since ") and "2 run(s) in a row: "
                   "KRX_REPLAY_PATH: cannot read" in line for line in status.attention)

        # the file fixed: the run collects, the streak ends with one "works again" message
        assert daily_update.main(["--today", "2024-09-03"], settings=good) == 0
        assert len(stub.messages("telegram")) == 2
        recovered = stub.messages("telegram")[1]["text"]
        assert "daily_update works again" in recovered and "after 2 failed run(s)" in recovered
        assert daily_update.main(["--today", "2024-09-03"], settings=good) == 0
        assert len(stub.messages("telegram")) == 2 and len(stub.messages("webhook")) == 2
    err = capsys.readouterr().err
    assert err.count("daily_update ERROR KRX_REPLAY_PATH: cannot read") == 2


def test_without_a_database_the_line_says_the_stop_is_not_recorded_or_alerted(make_settings, capsys):
    with serve_stub() as stub:
        settings = make_settings(mongodb_uri=None, alert_webhook_url=f"{stub.url}/hook")
        assert daily_update.main(["--today", "2024-09-03"], settings=settings) == 2
        assert stub.posts == []
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "ERROR MONGODB_URI is not set" in line
    assert line.endswith("(not recorded, no alert sent: no database to record it in)")


def test_a_setting_that_does_not_load_says_so_rather_than_blaming_the_database(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)  # no .env here
    for name, value in {"MONGODB_URI": "mongomock://", "KRX_SOURCES": "yahoo"}.items():
        monkeypatch.setenv(name, value)
    assert daily_update.main(["--today", "2024-09-03"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "ERROR setting KRX_SOURCES: unknown source 'yahoo'" in line
    assert line.endswith("(not recorded, no alert sent: the settings did not load, so no database was opened)")


@pytest.mark.parametrize("market", ["krx", "us"])
def test_a_replay_file_or_folder_that_moved_is_a_recorded_stop_not_a_silent_settings_error(
    market, make_settings, tmp_path, capsys
):
    gone = tmp_path / "moved"
    if market == "krx":
        settings = make_settings(krx_replay_path=gone)
        script, line = daily_update, f"KRX_REPLAY_PATH: no file at {gone}"
    else:
        settings = make_settings(us_sources=["replay"], us_replay_dir=gone)
        script, line = etf_pipeline, f"US_REPLAY_DIR: no folder at {gone}"
    assert script.main(["--today", "2024-09-03"], settings=settings) == 2
    [error] = [ln for ln in capsys.readouterr().err.splitlines() if " ERROR " in ln]
    assert error.endswith(f"ERROR {line}; fix the path in .env")
    job = script.__name__
    run = Storage(get_client("mongomock://")).jobs.latest_run(job)
    assert run["status"] == "failed" and run["exit_code"] == 2 and run["stopped_before_start"] is True


def test_a_future_today_typed_at_a_terminal_is_refused_but_not_recorded_as_a_failed_run(make_settings, capsys):
    future = (dt.datetime.now(KST) + dt.timedelta(days=3)).date().isoformat()
    assert manual_setup.main(["--today", future], settings=make_settings()) == 2
    assert "is in the future" in capsys.readouterr().err
    assert Storage(get_client("mongomock://")).jobs.runs() == []


def test_a_stop_reason_never_carries_a_secret_of_the_settings(make_settings):
    settings = make_settings(alert_webhook_url="https://hooks.example/T0/s3cr3t-path?sig=hush-hush",
                             telegram_bot_token=TOKEN, telegram_chat_id="42", krx_openapi_key="openapi-key-123",
                             mongodb_uri="mongodb://app:db-pass-42@db.internal:27017/stocks")
    reason = (f"cannot reach /T0/s3cr3t-path (sig=hush-hush) with openapi-key-123 via bot{TOKEN}/sendMessage; "
              "login app:db-pass-42 failed; /data/stocks/file.csv unreadable")
    clean = redact(reason, settings)
    for secret in ("s3cr3t", "hush-hush", "openapi-key-123", TOKEN, "db-pass-42"):
        assert secret not in clean
    assert "<KRX_OPENAPI_KEY>" in clean and "<TELEGRAM_BOT_TOKEN>" in clean and "<ALERT_WEBHOOK_URL>" in clean
    assert "login app:<MONGODB_URI> failed" in clean
    assert "/data/stocks/file.csv" in clean  # the database's name is no secret: a path naming it stays readable
