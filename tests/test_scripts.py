"""The cron scripts as a user runs them: exit codes, refusals, --today, and the demo."""

from __future__ import annotations

import datetime as dt
import io
import re
import socket
import sys
from pathlib import Path

import pytest

import daily_update
import demo
import demo_report
import manual_setup
from lib.log import KST
from lib.storage import Storage, close_clients, get_client
from tests.conftest import PANEL
from tests.fake_mongo import StalledMongo, within

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
    assert [d["date_kst"] for d in storage.jobs.day_records("daily_update")][-2:] == ["2024-09-02", "2024-09-03"]
    assert [r["status"] for r in storage.jobs.runs()] == ["completed", "completed"]


def test_a_bad_date_argument_is_a_usage_error(make_settings):
    with pytest.raises(SystemExit) as exit_info:
        daily_update.main(["--today", "2024-02-30"], settings=make_settings())
    assert exit_info.value.code == 2


def test_the_demo_runs_setup_and_catch_up_and_prints_what_it_stored(capsys):
    argv = ["--panel", str(PANEL), "--setup-day", "2025-05-30", "--today", "2025-06-16", "--market", "both",
            "--us-sessions", "4", "--us-first-day", "2025-08-27", "--us-today", "2025-09-02", "--no-serve",
            "--ai-sessions", "3", "--ai-stocks", "4",  # the stub leaderboard's path, small (tests/test_demo_predict.py)
            "--us-stock-sessions", "60"]
    assert demo.main(argv) == 0
    out = capsys.readouterr().out
    assert "=== ai_predict + ai_evaluate: 3 past sessions predicted by two stub models" in out
    assert re.search(r"openai:stub-momentum\s+predict_outlook:\d+\s+12 of 12", out)
    # Every step's section says on stdout what the step did.
    assert re.search(r"=== 1/4 manual_setup .*\ncompleted in .*: 300 session\(s\) stored through 2025-05-30, ", out)
    assert re.search(r"=== 2/4 daily_update .*\ncompleted in .*: 9 session\(s\) stored through 2025-06-16, ", out)
    assert re.search(r"=== 3/4 daily_update .*\ncompleted in .*: nothing to collect, up to date through 2025-06", out)
    assert re.search(r"=== 4/4 hourly_analysis .*\ncompleted in .*: \d+ stock\(s\) analysed for 2025-06-16, 12 ", out)
    assert "trading days    309 completed (2024-03-06 .. 2025-06-16)" in out
    assert "=== screener macd_golden_cross on 2025-06-16" in out
    assert "score = MACD histogram in % of the close" in out
    assert re.search(r"ticker\s+name\s+close KRW\s+day\s+score\s+why it fired", out) or "no stock fires" in out
    assert re.search(r"20 sessions\s+[\d,]+\s+[-+]\d+\.\d\d%.*[-+]\d+\.\d\d pts\s+(beats|TRAILS) the universe", out)
    assert "=== check_db" in out and out.rstrip().endswith("Nothing needs attention.")
    # check_db comes last, after the US part, and shows both markets
    check = out.index("=== check_db")
    assert out.index("=== trending ETFs on 2025-09-02") < check and out.index("=== 3/4 monthly_rebalance") < check
    assert "KRX (KOSPI, KOSDAQ) - day records" in out[check:] and "US ETFs (XNYS) - day records" in out[check:]
    # the US stocks: universe, setup, catch-up, analysis, screened in dollars, and in check_db
    assert re.search(r"us_stocks_update --setup --sessions 60 .*\ncompleted in .*: 60 session\(s\) stored through "
                     r"2025-08-27, 3,840 daily bars written", out)
    assert re.search(r"us_analysis --market us .*\ncompleted in .*: 64 stock\(s\) analysed for 2025-09-02", out)
    assert "=== US universe: 64 active stocks" in out and "=== US screener macd_golden_cross on 2025-09-02" in out
    assert "US stocks (XNYS) - day records" in out[check:]


def test_the_demo_checks_the_strategy_before_running_anything(capsys):
    assert demo.main(["--strategy", "nonsense"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("demo: unknown strategy 'nonsense'; known: adx_trend, ")


def test_picks_show_close_and_change_aligned_by_display_width_with_korean_names(storage):
    from lib.analysis.screener import Pick
    from lib.display import table, width

    day = dt.date(2025, 6, 16)
    bars = {"079550": (526_000, 554_000), "011200": (24_200, 24_300)}
    for ticker, (before, close) in bars.items():
        storage.bars.upsert_bars({ticker: [
            {"date": dt.datetime(2025, 6, 13), "close": before},
            {"date": dt.datetime(2025, 6, 16), "close": close},
        ]})
    picks = [Pick("079550", day, 1.11, {}, "a"), Pick("011200", day, 0.61, {}, "b")]
    rows = demo_report.pick_rows(storage, picks, {"079550": "LIG넥스원", "011200": "HMM"})
    assert rows[0][2:5] == ["554,000", "+5.32%", "1.11"] and rows[1][2:4] == ["24,300", "+0.41%"]
    lines = table(["ticker", "name", "close KRW", "day", "score", "why"], rows, right=(2, 3, 4)).splitlines()
    ends = {width(line[: line.index(close) + len(close)]) for line, close in zip(lines[1:], ["554,000", "24,300"],
                                                                                  strict=True)}
    assert len(ends) == 1  # the close column ends in the same terminal cell after a Korean and a Latin name


def test_the_track_record_makes_a_strategy_that_trails_the_universe_visible():
    stats = {"horizons": {
        "5": {"count": 10, "mean": 0.0072, "median": 0.0036, "hit_rate": 0.53, "universe_mean": 0.0066,
              "excess_mean": 0.0006},
        "20": {"count": 8, "mean": 0.0136, "median": -0.0027, "hit_rate": 0.48, "universe_mean": 0.0153,
               "excess_mean": -0.0017},
        "10": {"count": 0, "mean": None, "median": None, "hit_rate": None, "universe_mean": None, "excess_mean": None},
    }}
    rows = demo_report.record_rows(stats)
    assert rows[0][-2:] == ["+0.06 pts", "beats the universe"]
    assert rows[1][0] == "20 sessions" and rows[1][-2:] == ["-0.17 pts", "TRAILS the universe"]
    assert len(rows) == 2  # a horizon without picks is left out


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
    assert [d["date_kst"] for d in storage.jobs.day_records("daily_update")] == ["2024-08-29", "2024-08-30"]
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


def test_an_srv_host_dns_cannot_look_up_is_transient_exit_1_in_one_line(make_settings, capsys, monkeypatch):
    import dns.resolver

    def outage(qname, rdtype, **_kwargs):  # what a resolver answers when no nameserver can be reached
        raise dns.resolver.NoNameservers()

    monkeypatch.setattr(dns.resolver, "resolve", outage)
    settings = make_settings(mongodb_uri="mongodb+srv://app:secret@cluster0.example.invalid/")
    try:
        assert manual_setup.main(["--today", "2024-09-02"], settings=settings) == 1
    finally:
        close_clients()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert lines[0].endswith(
        "ERROR MongoDB host cluster0.example.invalid could not be looked up in DNS (mongodb+srv://): All "
        "nameservers failed to answer the query.; try again later, and check the host name in MONGODB_URI if "
        "this lasts (not recorded, no alert sent: no database to record it in)"
    )
    assert "secret" not in lines[0] and "percent-encoded" not in lines[0]


@pytest.mark.parametrize(
    ("query", "code", "logged"),
    [
        ("tls=maybe", 2, ["ERROR MONGODB_URI option tls: The value of tls must be 'true' or 'false'; fix it in .env"]),
        ("foo=bar", 1, ["WARNING MONGODB_URI option 'foo' is not a MongoDB option: ignored; remove or correct it "
                        "in .env", "ERROR MongoDB is not reachable: ServerSelectionTimeoutError"]),
    ],
)
def test_uri_options_a_script_cannot_use_are_one_line_each(make_settings, capsys, query, code, logged):
    uri = f"mongodb://127.0.0.1:{_closed_port()}/?{query}"
    try:
        settings = make_settings(mongodb_uri=uri, mongodb_timeout_seconds=1)
        assert daily_update.main(["--today", "2024-09-02"], settings=settings) == code
    finally:
        close_clients()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == len(logged), lines  # no UserWarning with a source path and a code line
    for line, expected in zip(lines, logged, strict=True):
        assert expected in line


def test_a_database_that_stops_answering_ends_a_script_with_exit_1_in_one_line(make_settings, capsys):
    with StalledMongo() as stalled:
        settings = make_settings(mongodb_uri=stalled.uri, mongodb_timeout_seconds=1)
        try:
            code, seconds = within(20, lambda: daily_update.main(["--today", "2024-09-02"], settings=settings))
        finally:
            close_clients()
    assert code == 1 and seconds < 1 + 2, (code, seconds)  # MONGODB_TIMEOUT_SECONDS and a little start-up
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        f"ERROR MongoDB did not answer in time: NetworkTimeout: 127.0.0.1:{stalled.port}: timed out; the server "
        "accepts connections but does not reply (overloaded or stuck?): try again later (not recorded, no alert "
        "sent: no database to record it in)"
    )
    assert stalled.unanswered == ["ping"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_failed_run_says_how_it_ended_without_trailing_blanks(make_settings, capsys):
    assert daily_update.main(["--today", "2024-09-02"], settings=make_settings()) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert re.search(r"daily_update failed \(exit 2\) in \d+\.\ds$", last)


class Terminal(io.StringIO):
    """stderr as a terminal: progress bars are drawn on it."""

    def isatty(self) -> bool:
        return True


def test_on_a_terminal_log_lines_are_written_above_the_progress_bar_not_glued_onto_it(make_settings, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert manual_setup.main(["--today", "2024-08-30"], settings=make_settings(setup_history_sessions=45)) == 0
    screen = terminal.getvalue()
    assert "manual_setup: 100%" in screen  # the bar was drawn
    logged = [line.rsplit("\r", 1)[-1] for line in screen.split("\n") if " manual_setup INFO " in line]
    assert any("KRX: stored 2024-08-01..2024-08-30" in line for line in logged)
    assert all(re.match(r"\d{4}-\d\d-\d\dT", line) for line in logged), logged


def test_deploy_files_rotate_as_the_log_owner_and_start_the_api_once_the_network_is_up():
    service = (ROOT / "deploy" / "stock-api.service").read_text().splitlines()
    user = next(line.split("=", 1)[1] for line in service if line.startswith("User="))
    assert "Wants=network-online.target" in service
    assert any(line.startswith("After=") and "network-online.target" in line for line in service)
    rotate = [line.strip() for line in (ROOT / "deploy" / "logrotate-stock-pipeline").read_text().splitlines()]
    # Without `su`, logrotate skips a group-writable logs/ folder ("parent directory has insecure permissions").
    assert f"su {user} {user}" in rotate and "copytruncate" in rotate


def test_the_install_line_crontab_txt_gives_keeps_the_user_s_own_lines_and_ours_once(tmp_path):
    import subprocess

    text = (ROOT / "crontab.txt").read_text()
    assert not text.splitlines()[0].startswith("# Install with: crontab crontab.txt")  # that replaces a crontab
    [install] = [ln.removeprefix("#").strip() for ln in text.splitlines() if "| crontab -" in ln]
    assert install in (ROOT / "README.md").read_text()  # the README gives the same line
    # A stand-in `crontab` keeping the table in a file, with one line of the user's own already installed.
    table = tmp_path / "table"
    table.write_text("MAILTO=me@example.org\n5 4 * * * /home/ubuntu/backup.sh\n")
    fake = tmp_path / "bin" / "crontab"
    fake.parent.mkdir()
    # (it reads the new table whole before replacing the old, as crontab does: no race with `crontab -l`)
    fake.write_text(f'#!/bin/sh\nif [ "$1" = -l ]; then cat {table}\n'
                    f'else cat > {table}.new && mv {table}.new {table}; fi\n')
    fake.chmod(0o755)
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin"}
    for _ in range(2):  # installing again (an upgrade) replaces our lines rather than adding them twice
        subprocess.run(["bash", "-c", install], cwd=ROOT, env=env, check=True)
    assert table.read_text() == "MAILTO=me@example.org\n5 4 * * * /home/ubuntu/backup.sh\n" + text
