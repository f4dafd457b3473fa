"""Alerts: derived from what the jobs stored, sent once per event to Telegram and a webhook (a local stub server
on 127.0.0.1), never failing the job, never leaking a secret."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from collections.abc import Iterator

import pandas as pd
import pytest

import daily_update
import lib.ops.alerts
import manual_setup
from lib.errors import SourceBlockedError
from lib.markets.krx.replay import ReplaySource
from lib.markets.krx.source_base import COLUMNS
from lib.markets.krx.sources import SourceChain
from lib.ops.alerts import alert_after_job
from lib.spine.calendar import TradingCalendar
from lib.storage import Storage, get_client
from tests.conftest import PANEL
from tests.helpers import ScriptedSource, evening, run_analysis, run_collection
from tests.notify_stub import Stub, serve_stub

D = dt.date
TOKEN = "123456:SECRET-token"
STRATEGY = "adx_trend"  # picks 2 stocks of the test panel on 2024-12-20
CHAT = "4242"


@pytest.fixture
def stub() -> Iterator[Stub]:
    with serve_stub() as state:
        yield state


@pytest.fixture
def settings(make_settings, stub):
    return make_settings(
        setup_history_sessions=5, telegram_bot_token=TOKEN, telegram_chat_id=CHAT, telegram_api_url=stub.url,
        alert_webhook_url=f"{stub.url}/hooks/private-path?key=hush", alert_timeout_seconds=5,
    )


def alert(storage, settings, clock, today: dt.date | None = None) -> None:
    """The step run_job runs after every job, again (as the next job would)."""
    alert_after_job(settings, storage, clock(), evening(today, 23) if today else None)


def chain_of(*sources) -> SourceChain:
    return SourceChain(list(sources), min_gap_seconds=0, backoff_seconds=0, sleep=lambda _s: None)


def test_a_failing_job_alerts_once_per_failure_streak_and_once_when_it_works_again(storage, settings, clock, stub):
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 2)), clock) == 2  # no setup yet
    alert(storage, settings, clock, D(2024, 9, 2))
    [telegram] = stub.messages("telegram")
    assert telegram["chat_id"] == CHAT
    assert "daily_update failed" in telegram["text"] and "manual_setup.py" in telegram["text"]
    [hook] = stub.messages("webhook")
    assert hook["kind"] == "job_failed" and hook["severity"] == "error" and hook["key"].startswith("job_failed:")

    # cron retries every hour: the same failure streak sends nothing more
    for _ in range(3):
        run_collection("daily_update", storage, settings, evening(D(2024, 9, 2)), clock)
        alert(storage, settings, clock, D(2024, 9, 2))
    assert len(stub.messages("telegram")) == 1 and len(stub.messages("webhook")) == 1

    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 2)), clock) == 0
    alert(storage, settings, clock, D(2024, 9, 2))
    alert(storage, settings, clock, D(2024, 9, 2))
    recovered = stub.messages("telegram")[1]["text"]
    assert "daily_update works again" in recovered and "after 4 failed run(s)" in recovered
    assert len(stub.messages("telegram")) == 2


def test_a_script_sends_the_alert_and_logs_that_it_was_sent_without_the_token(make_settings, stub, capsys):
    settings = make_settings(telegram_bot_token=TOKEN, telegram_chat_id=CHAT, telegram_api_url=stub.url)
    assert daily_update.main(["--today", "2024-09-02"], settings=settings) == 2  # before manual_setup
    err = capsys.readouterr().err
    assert "daily_update ERROR no collected day in job_status yet" in err
    assert "INFO alert job_failed:daily_update:" in err and "sent to telegram" in err
    assert TOKEN not in err
    assert len(stub.messages("telegram")) == 1
    record = Storage(get_client("mongomock://")).alerts.recent_alerts()[0]
    assert record["channels"]["telegram"]["status"] == "sent"


def test_a_failing_channel_never_fails_the_job_and_is_retried_until_it_delivers(
    storage, settings, clock, stub, caplog
):
    stub.answers["telegram"] = [(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})]
    stub.answers["webhook"] = [(500, {"error": "down"}), (502, {"error": "down"})]
    with caplog.at_level(logging.INFO, logger="pipeline"):
        assert run_collection("daily_update", storage, settings, evening(D(2024, 9, 2)), clock) == 2
        alert(storage, settings, clock)
    assert "NOT sent (attempt 1/3; the next job's alert step retries): telegram: HTTP 401: Unauthorized" in caplog.text
    assert "private-path" not in caplog.text and "hush" not in caplog.text and TOKEN not in caplog.text

    alert(storage, settings, clock)  # the next job: telegram now works, the webhook fails again
    alert(storage, settings, clock)  # and the one after: the webhook works
    alert(storage, settings, clock)  # nothing left to send
    assert len(stub.messages("telegram")) == 2 and len(stub.messages("webhook")) == 3
    [record] = storage.alerts.recent_alerts()
    assert record["channels"]["telegram"] == {**record["channels"]["telegram"], "status": "sent", "attempts": 2}
    assert record["channels"]["webhook"]["status"] == "sent" and record["channels"]["webhook"]["attempts"] == 3


def test_an_unreachable_channel_gives_up_after_the_attempts_and_check_db_shows_it(storage, make_settings, clock):
    from lib.ops.status import gather

    # Bound but never listening, the port refuses connections; held while the alerts try it, so that no test in
    # a parallel worker takes it meanwhile.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
        settings = make_settings(telegram_bot_token=TOKEN, telegram_chat_id=CHAT, alert_max_attempts=2,
                                 telegram_api_url=f"http://127.0.0.1:{closed}", alert_timeout_seconds=2,
                                 alert_webhook_url=f"http://127.0.0.1:{closed}/hooks/s3cr3t?key=hush")
        run_collection("daily_update", storage, settings, evening(D(2024, 9, 2)), clock)
        for _ in range(4):
            alert(storage, settings, clock)
    channels = storage.alerts.recent_alerts()[0]["channels"]
    for delivery in channels.values():
        assert delivery["status"] == "failed" and delivery["attempts"] == 2 and "ConnectionError" in delivery["error"]
    assert "123456" not in channels["telegram"]["error"] and "<TELEGRAM_BOT_TOKEN>" in channels["telegram"]["error"]
    assert "s3cr3t" not in channels["webhook"]["error"] and "hush" not in channels["webhook"]["error"]
    status = gather(storage, settings, clock(), D(2024, 9, 2), sizes=False)
    assert any(line.startswith("alert not delivered: job_failed:daily_update:") for line in status.attention)


def test_a_blocked_source_is_recorded_in_the_run_and_alerted_once_per_streak(storage, settings, clock, stub):
    replay = ReplaySource(PANEL)
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    calendar = TradingCalendar(exchange="XKRX", settings_prefix="KRX")
    refused = {d: _raise(SourceBlockedError("krx_openapi: HTTP 401 (bad AUTH_KEY)"))
               for d in calendar.sessions_between(D(2024, 9, 1), D(2024, 9, 30))}
    for day in (D(2024, 9, 2), D(2024, 9, 3)):
        chain = chain_of(ScriptedSource(replay, "krx_openapi", failures=refused), ScriptedSource(replay, "pykrx"))
        assert run_collection("daily_update", storage, settings, evening(day), clock, chain) == 0
        alert(storage, settings, clock, day)
    run = storage.jobs.runs()[0]
    assert run["status"] == "completed"
    assert run["blocked_sources"] == {"krx_openapi": "krx_openapi: HTTP 401 (bad AUTH_KEY)"}
    [message] = stub.messages("telegram")
    assert "krx_openapi is refusing daily_update" in message["text"] and "KRX_OPENAPI_KEY" in message["text"]


def _raise(exc: Exception):
    def fail():
        raise exc

    return fail


def test_a_no_data_day_and_stale_data_are_alerted_once_each(storage, settings, clock, stub):
    replay = ReplaySource(PANEL)
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    empty = ScriptedSource(replay, "replay", failures={D(2024, 9, 3): lambda: pd.DataFrame(columns=list(COLUMNS))})
    later = D(2024, 9, 3) + dt.timedelta(days=settings.missing_day_grace_days + 1)
    assert run_collection("daily_update", storage, settings, evening(later), clock, chain_of(empty)) == 0
    alert(storage, settings, clock, later)
    alert(storage, settings, clock, later)
    texts = [m["text"] for m in stub.messages("telegram")]
    assert len(texts) == 1 and "2024-09-03 recorded without data" in texts[0]
    assert "If the market was closed, add it to KRX_EXTRA_CLOSED_DAYS; if it traded, run `python daily_update.py " \
           "--redo 2024-09-03`." in texts[0]

    # nothing collected for a week: the market is stale, alerted once however often the jobs run
    a_week_on = later + dt.timedelta(days=7)
    for _ in range(3):
        alert(storage, settings, clock, a_week_on)
    texts = [m["text"] for m in stub.messages("telegram")]
    assert len(texts) == 2 and "KRX (KOSPI, KOSDAQ) data is stale" in texts[1]
    assert f"The newest collected session is {later}" in texts[1]


def test_events_older_than_the_max_age_are_never_sent(storage, settings, make_settings, clock, stub):
    run_collection("daily_update", storage, make_settings(), evening(D(2024, 9, 2)), clock)  # alerts not set up yet
    clock.advance(days=settings.alert_max_age_days + 1)
    alert(storage, settings, clock)
    assert stub.posts == []


def test_two_alert_steps_at_once_send_each_channel_once(storage, settings, make_settings, clock, stub):
    run_collection("daily_update", storage, make_settings(), evening(D(2024, 9, 2)), clock)
    threads = [threading.Thread(target=alert, args=(storage, settings, clock)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stub.messages("telegram")) == 1 and len(stub.messages("webhook")) == 1


def test_chosen_strategies_send_their_picks_once_the_day_is_analysed(storage, make_settings, stub, clock):
    settings = make_settings(setup_history_sessions=260, telegram_bot_token=TOKEN, telegram_chat_id=CHAT,
                             telegram_api_url=stub.url, alert_strategies=[STRATEGY])
    day = D(2024, 12, 20)
    run_collection("manual_setup", storage, settings, evening(day), clock)
    alert(storage, settings, clock, day)
    assert stub.posts == []  # not analysed yet: nothing to say
    run_analysis(storage, settings, evening(day, 22), clock)
    alert(storage, settings, clock, day)
    alert(storage, settings, clock, day)
    [message] = stub.messages("telegram")
    title, description, first_pick = message["text"].splitlines()[:3]
    assert title.startswith(f"{STRATEGY}: ") and title.endswith(f"pick(s) on {day}")
    assert "(score " in first_pick and first_pick[:6].isdigit()


def test_no_channel_configured_means_no_alert_records(storage, make_settings, clock):
    settings = make_settings()
    run_collection("daily_update", storage, settings, evening(D(2024, 9, 2)), clock)
    alert(storage, settings, clock)
    assert storage.alerts.recent_alerts() == []


def test_telegram_and_webhook_settings_are_checked(make_settings):
    from lib.errors import ConfigError

    with pytest.raises(ConfigError, match="TELEGRAM_CHAT_ID: set both TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID"):
        make_settings(telegram_bot_token=TOKEN)
    with pytest.raises(ConfigError, match="TELEGRAM_CHAT_ID: set both"):
        make_settings(telegram_chat_id=CHAT)
    with pytest.raises(ConfigError, match="ALERT_WEBHOOK_URL: must start with http"):
        make_settings(alert_webhook_url="hooks.example/abc")
    with pytest.raises(ConfigError, match="ALERT_MAX_AGE_DAYS: must be shorter than RETENTION_ALERTS_DAYS"):
        make_settings(retention_alerts_days=2, alert_max_age_days=3)
    assert make_settings(telegram_bot_token="", telegram_chat_id="").telegram_bot_token is None


def test_an_analysis_that_falls_behind_the_collection_is_alerted_once(storage, settings, clock, stub):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    assert run_analysis(storage, settings, evening(D(2024, 8, 30), 22), clock) == 0
    alert(storage, settings, clock, D(2024, 8, 30))
    assert stub.posts == []
    run_collection("daily_update", storage, settings, evening(D(2024, 9, 4)), clock)
    for _ in range(2):
        alert(storage, settings, clock, D(2024, 9, 4))
    [message] = stub.messages("telegram")
    assert "the analysis is behind" in message["text"] and "only through 2024-08-30, 3 collected" in message["text"]


def test_an_alert_step_that_breaks_leaves_the_jobs_exit_code_alone(make_settings, stub, monkeypatch, capsys):
    def broken(*_args, **_kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(lib.ops.alerts, "evaluate", broken)
    settings = make_settings(setup_history_sessions=3, telegram_bot_token=TOKEN, telegram_chat_id=CHAT,
                             telegram_api_url=stub.url)
    assert manual_setup.main(["--today", "2024-08-30"], settings=settings) == 0
    assert "WARNING alerts: could not evaluate or send (RuntimeError: database hiccup); the job's result stands" in (
        capsys.readouterr().err)


def test_quarantined_bars_of_a_day_are_alerted_once_naming_them_and_the_redo(
    storage, settings, make_settings, clock, stub, tmp_path
):
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    panel = pd.read_parquet(PANEL)
    panel.loc[(panel["ticker"] == "005930") & (panel["date"] == "2024-09-02"), "close"] *= 2
    panel.to_parquet(tmp_path / "wrong.parquet")
    corrupt = settings.updated(krx_replay_path=tmp_path / "wrong.parquet")
    assert run_collection("daily_update", storage, corrupt, evening(D(2024, 9, 3)), clock) == 0
    for _ in range(2):  # the next jobs' alert steps send nothing new
        alert(storage, settings, clock, D(2024, 9, 3))
    [message] = stub.messages("telegram")
    assert "1 bar(s) of 2024-09-02 quarantined" in message["text"]
    assert "005930 (KOSPI): close 148,800 is +100.3% from the previous close 74,300" in message["text"]
    assert "`python daily_update.py --redo 2024-09-02`" in message["text"]
    [hook] = stub.messages("webhook")
    assert hook["kind"] == "quarantine" and hook["severity"] == "warning"

    # a quarantine of a day older than ALERT_MAX_AGE_DAYS (a history load) is shown by check_db, not alerted
    storage.bad_data.quarantine_bars([{"ticker": "000660", "day": D(2024, 6, 3), "market": "KOSPI", "reason": "test",
                              "bar": {"close": 1}}])
    alert(storage, settings, clock, D(2024, 9, 3))
    assert len(stub.messages("telegram")) == 1
