"""The US scripts as a user runs them: exit codes and one-line refusals, cron across daylight saving, the demo."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import demo
import demo_report
import etf_pipeline
import monthly_rebalance
from lib.config import load_settings
from lib.errors import ConfigError
from lib.markets.us.etf.rebalance import last_sunday
from lib.markets.us.market import us_market
from tests.conftest import US_SAMPLE

ROOT = Path(__file__).resolve().parent.parent
SEOUL, NEW_YORK = ZoneInfo("Asia/Seoul"), ZoneInfo("America/New_York")


def cron_lines() -> dict[str, list[str]]:
    lines = [ln for ln in (ROOT / "crontab.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    jobs: dict[str, list[str]] = {}
    for line in lines:
        if "python" in line:
            jobs[line.split("python ")[1].split()[0]] = line.split()[:5]
    return jobs


def test_the_us_scripts_run_tuesday_to_saturday_mornings_and_sunday_night_in_korea():
    jobs = cron_lines()
    assert jobs["etf_pipeline.py"] == ["30", "7,11", "*", "*", "2-6"]
    assert jobs["monthly_rebalance.py"] == ["0", "23", "*", "*", "0"]


def test_sunday_23_00_kst_is_14_00_utc_and_the_same_sunday_in_new_york_in_every_season():
    day = dt.date(2024, 1, 7)
    while day < dt.date(2027, 1, 1):
        moment = dt.datetime.combine(day, dt.time(23, 0), tzinfo=SEOUL)
        assert moment.astimezone(dt.UTC).hour == 14
        assert moment.astimezone(NEW_YORK).date() == day
        day += dt.timedelta(days=7)
    assert last_sunday(2025, 3) == dt.date(2025, 3, 30) and last_sunday(2025, 11) == dt.date(2025, 11, 30)


def test_without_mongodb_uri_each_us_script_refuses_with_one_line(make_settings, capsys):
    settings = make_settings(mongodb_uri=None)
    assert etf_pipeline.main(["--today", "2025-07-31"], settings=settings) == 2
    assert monthly_rebalance.main(["--date", "2025-08-31"], settings=settings) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all("MONGODB_URI is not set" in ln for ln in lines)
    assert re.match(r"^\S+\+09:00 etf_pipeline ERROR ", lines[0])


def test_a_future_new_york_date_is_refused(make_settings, capsys):
    future = (dt.datetime.now(NEW_YORK) + dt.timedelta(days=3)).date().isoformat()
    assert etf_pipeline.main(["--today", future], settings=make_settings()) == 2
    assert "is in the future" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"us_sources": "replay", "us_replay_dir": None}, "US_SOURCES names 'replay': set US_REPLAY_DIR"),
        ({"us_sources": "yahoo"}, "unknown source 'yahoo'; choose from yfinance, replay"),
        ({"us_sector_etfs": "XLF"}, "'XLF' is not TICKER:Sector name"),
        ({"us_benchmark": "VOO"}, "US_BENCHMARK VOO must be one of US_BENCHMARK_ETFS"),
        ({"us_extra_closed_days": "2025-13-01"}, "US_EXTRA_CLOSED_DAYS"),
    ],
)
def test_bad_us_settings_are_one_clear_line(values, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(env_file=None, **values)


def test_a_replay_folder_without_its_layout_is_refused(make_settings, tmp_path, capsys):
    settings = make_settings(us_replay_dir=tmp_path)
    assert etf_pipeline.main(["--today", "2025-07-31"], settings=settings) == 2
    assert "has no us_etf/ folder" in capsys.readouterr().err


def test_a_replay_folder_lacking_a_followed_etf_is_refused_before_anything_is_stored(make_settings, tmp_path, capsys):
    # A user's own folder without SPY.csv used to record every session completed, with empty portfolios saying
    # "no ETF beat SPY", and exit 0; adding the file later never filled those sessions.
    from lib.storage import Storage, get_client

    shutil.copytree(US_SAMPLE, tmp_path / "us")
    (tmp_path / "us" / "us_etf" / "SPY.csv").unlink()
    (tmp_path / "us" / "us_etf" / "XLB.csv").unlink()
    settings = make_settings(us_replay_dir=tmp_path / "us")
    assert etf_pipeline.main(["--today", "2025-07-31"], settings=settings) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if " ERROR " in line]
    assert len(errors) == 1
    assert "has no us_etf/<TICKER>.csv for SPY, XLB" in errors[0] and "US_BENCHMARK_ETFS" in errors[0]
    assert Storage(get_client("mongomock://")).jobs.day_records("etf_pipeline") == []
    # With Yahoo first, the folder is only a fallback: a file it lacks is not an error.
    both = make_settings(us_sources="yfinance,replay", us_replay_dir=tmp_path / "us")
    assert us_market(both).chain.sources[1].name == "replay"


def test_the_demo_runs_both_us_scripts_and_prints_trending_etfs_and_portfolios_with_units(capsys):
    argv = ["--market", "us", "--us-sessions", "4", "--us-first-day", "2025-08-27", "--us-today", "2025-09-02",
            "--no-serve"]
    assert demo.main(argv) == 0
    out = capsys.readouterr().out
    assert "=== trending ETFs on 2025-09-02" in out and "pt = percentage points ahead of SPY" in out
    assert re.search(r"=== 20-session portfolio of 2025-09-02, for 2025-09-03\.\.2025-09-30", out)
    assert re.search(r" 1\. \S+ .* weight +\d+\.\d\d%  return +[+-]\d+\.\d\d%  market cap USD [\d,]+B", out)
    assert "2025-08: " in out and "2025-09-02..2025-09-29: open through 2025-09-02" in out


def test_the_demo_marks_look_ahead_portfolios_shows_concentration_and_leaves_them_out_of_the_summary(capsys):
    argv = ["--market", "us", "--us-sessions", "4", "--us-first-day", "2025-08-27", "--us-today", "2025-09-05",
            "--no-serve"]
    assert demo.main(argv) == 0
    out = capsys.readouterr().out
    assert "LOOK-AHEAD, not a result: " in out and "holdings as of 2025-11-30, not known on this session" in out
    assert re.search(r"concentration: largest weight \d+\.\d% \(\S+\), effective number of holdings \d+\.\d of \d+",
                     out)
    summary = re.search(r" 5-session portfolios: +(\d+) finished, (\d+) counted: .*; (\d+) left out \(look-ahead\), "
                        r"(\d+) not checked", out)
    assert summary, out[-1500:]
    finished, counted, lookahead, unchecked = map(int, summary.groups())
    assert finished >= 1 and lookahead >= 1 and counted + lookahead + unchecked == finished
    assert "include_lookahead=true" in out


def test_the_us_only_demo_prints_only_urls_that_work_on_a_us_only_install(capsys):
    argv = ["--market", "us", "--us-sessions", "4", "--us-first-day", "2025-08-27", "--us-today", "2025-09-02"]
    assert demo.main(argv) == 0  # serves, tries its URLs, and stops (stdin is not a terminal under pytest)
    out = capsys.readouterr().out
    tried = re.findall(r"^  (\d{3})  http://127\.0\.0\.1:\d+(\S+)", out, re.MULTILINE)
    paths = [path for _, path in tried]
    assert "/etf/trending?period=20" in paths and "/dashboard" in paths
    assert "/health" in paths  # it judges the markets the install runs: US alone here
    assert not [p for p in paths if p.startswith(("/stocks", "/screener"))], paths  # KRX routes
    assert {status for status, _ in tried} == {"200"}, tried
    assert "POST /ai/analysis analyses KRX stocks" in out and "POST http" not in out
    assert "(the clock says 2025-09-03 21:00 KST;" in out  # after its last US session, not the KRX day


def test_redo_runs_a_session_again_and_check_db_knows_the_us_market(make_settings, capsys):
    import check_db
    from lib.storage import Storage, get_client

    settings = make_settings(us_first_run_sessions=2)
    assert etf_pipeline.main(["--today", "2025-07-31"], settings=settings) == 0
    storage = Storage(get_client("mongomock://"))
    first = storage.jobs.day_records("etf_pipeline")[-1]
    assert etf_pipeline.main(["--today", "2025-07-31", "--redo", "2025-07-31"], settings=settings) == 0
    again = storage.jobs.day_records("etf_pipeline")[-1]
    assert again["date_kst"] == "2025-07-31" and again["run_id"] != first["run_id"]
    assert [r["pending"] for r in storage.jobs.runs("etf_pipeline")][:1] == [1]
    capsys.readouterr()
    check_db.main(["--today", "2025-07-31", "--no-sizes"], settings=settings)
    assert "US ETFs (XNYS)" in capsys.readouterr().out


def test_the_demo_says_when_a_weight_used_the_median_market_cap_instead_of_the_stock_s_own():
    # A Korean holding's own market cap is in won: the USD figure the weight used is the picks' median, and the
    # demo printed it as if it were the stock's own ("market cap USD 119B").
    own = {"market_cap": 157e9, "market_cap_used": 157e9, "currency": "USD"}
    korean = {"market_cap": 1.2e14, "market_cap_used": 119e9, "currency": "KRW"}
    unknown = {"market_cap": None, "market_cap_used": 119e9, "currency": None}
    assert demo_report.market_cap_text(own) == "USD 157B"
    assert demo_report.market_cap_text(korean) == "USD 119B (median)"
    assert demo_report.market_cap_text(unknown) == "USD 119B (median)"
    assert demo_report.market_cap_text({"market_cap": None, "market_cap_used": None}) == "n/a"


def test_a_today_before_the_files_start_is_one_line_not_a_promise_then_a_refusal(make_settings, capsys):
    assert etf_pipeline.main(["--today", "2020-01-02"], settings=make_settings()) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "mongomock" not in line]
    assert "loading from" not in "\n".join(lines)
    assert any("the sources start at 2024-10-01, after the last due session 2020-01-02" in line for line in lines)


def test_an_etf_file_with_a_header_only_is_named_as_having_no_rows(make_settings, tmp_path, capsys):
    shutil.copytree(US_SAMPLE, tmp_path / "us")
    (tmp_path / "us" / "us_etf" / "XLB.csv").write_text("date,open,high,low,close,volume\n")
    assert etf_pipeline.main(["--today", "2025-07-31"], settings=make_settings(us_replay_dir=tmp_path / "us")) == 2
    [error] = [line for line in capsys.readouterr().err.splitlines() if " ERROR " in line]
    assert error.endswith("XLB.csv has no rows")  # was "...: fromisoformat: argument must be str"


def test_check_db_on_a_us_only_install_does_not_ask_for_krx_unless_markets_names_it(make_settings, capsys):
    import check_db

    settings = make_settings(us_first_run_sessions=2)
    assert etf_pipeline.main(["--today", "2025-07-31"], settings=settings) == 0
    capsys.readouterr()
    assert check_db.main(["--today", "2025-08-01", "--no-sizes"], settings=settings) == 0
    out = capsys.readouterr().out
    assert "KRX (KOSPI, KOSDAQ) - day records of daily_update\n  not set up (not in MARKETS" in out
    assert "collected     2025-07-30 .. 2025-07-31: 2 session(s)" in out
    assert out.rstrip().endswith("Nothing needs attention.")
    # Named in MARKETS, the market nothing was collected for needs attention, with what to run; so do its news
    # (on by default, no key needed) until collect.py has read them; the datasets whose key is blank are off.
    both = make_settings(us_first_run_sessions=2, markets="krx,us")
    assert check_db.main(["--today", "2025-08-01", "--no-sizes", "--quiet"], settings=both) == 1
    assert capsys.readouterr().out.strip().splitlines() == [
        "ATTENTION KRX (KOSPI, KOSDAQ): nothing collected yet: run `python manual_setup.py`",
        "ATTENTION KRX news (Naver, Hankyung, Maeil): stale: nothing read yet: run `python collect.py krx.news`",
        "ATTENTION US news (Yahoo): stale: nothing read yet: run `python collect.py us.news`",
    ]
    us_only = make_settings(markets="us", us_news=False)
    assert check_db.main(["--today", "2025-08-01", "--quiet"], settings=us_only) == 0


def test_markets_accepts_krx_and_us_only(make_settings):
    from lib.errors import ConfigError

    assert make_settings(markets="US, krx").markets == ["us", "krx"]
    with pytest.raises(ConfigError, match="setting MARKETS: unknown market 'nyse'; choose from krx, us"):
        make_settings(markets="nyse")


def test_the_demo_collects_the_holdings_recorded_headlines_once_the_holdings_are_stored(capsys):
    argv = ["--market", "us", "--us-sessions", "4", "--us-first-day", "2025-09-25", "--us-today", "2025-09-30",
            "--no-serve"]
    assert demo.main(argv) == 0
    out = capsys.readouterr().out
    step = re.search(r"=== \d/\d us_news us\.news --today 2025-09-30: .*\n.*items_new=(\d+)", out)
    assert step and int(step.group(1)) > 0, out[-800:]  # before the US part there are no holdings to ask about
