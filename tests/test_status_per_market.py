"""check_db, /status, /health and the alerts show the analysis of every market with screened stocks, each read from
its market's own collections (KRX's and a few real US stocks' in their `us_` scope)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient

import check_db
import lib.spine.registry
import manual_setup
from api.app import create_app
from lib.ops.alerts import evaluate
from lib.storage import Storage, get_client
from tests.conftest import US_SAMPLE
from tests.us_scope import seed_us, two_markets

AS_OF = dt.datetime(2025, 10, 1, 3, 0, tzinfo=dt.UTC)  # 12:00 KST: the US session of 2025-09-30 is collected


@pytest.fixture
def two_stores(make_settings, monkeypatch):
    """KRX collected for 5 sessions (never analysed), US stocks collected through 2025-09-30 with AAPL analysed
    only through 2025-09-22 (6 sessions behind) and the others never."""
    monkeypatch.setattr(lib.spine.registry, "_registry", two_markets())
    settings = make_settings(setup_history_sessions=5, telegram_bot_token="123:abc", telegram_chat_id="42")
    assert manual_setup.main(["--today", "2024-08-30"], settings=settings) == 0
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    us = seed_us(storage)
    us.universe.set_last_analyzed("AAPL", dt.date(2025, 9, 22))
    return settings, storage


def test_check_db_lists_each_markets_analysis_with_its_own_universe(two_stores, capsys):
    settings, _ = two_stores
    capsys.readouterr()
    check_db.main(["--today", "2025-10-01", "--json"], settings=settings)
    body = json.loads(capsys.readouterr().out)
    krx, us = body["analyses"]
    assert (krx["market"], krx["runs"], krx["heading"]) == ("krx", "hourly_analysis", "KRX universe and analysis")
    assert (us["market"], us["runs"], us["heading"]) == ("us", "us_analysis", "US universe and analysis")
    assert (us["active"], us["pending"], us["lag"], us["stale"]) == (3, 3, 6, True)
    assert krx["active"] > 5 and body["analysis"] == krx  # the first market's, as before
    assert ("US analysis: 6 collected session(s) not fully analysed (3 active ticker(s) pending; see the "
            "us_analysis runs)") in body["attention"]
    assert "us_stock_data.<ticker>" in {s["name"] for s in body["sizes"]}  # its bars, one family

    check_db.main(["--today", "2025-10-01"], settings=settings)
    out = capsys.readouterr().out
    assert "\nKRX universe and analysis\n" in out and "\nUS universe and analysis\n" in out


def test_the_api_and_the_alerts_say_which_markets_analysis_is_behind(two_stores):
    settings, storage = two_stores
    app = create_app(settings, storage=storage, clock=lambda: AS_OF, datasets=two_markets())
    client = TestClient(app)
    analyses = client.get("/status").json()["analyses"]
    assert [a["market"] for a in analyses] == ["krx", "us"] and analyses[1]["stale"] is True
    health = client.get("/health").json()
    assert health["markets"]["us.stocks"]["last_collected_day"] == "2025-09-30"
    assert health["markets"]["us.stocks"]["analysis_stale"] is True and health["status"] == "stale"
    evaluate(storage.scoped("us_"), settings, AS_OF)  # what a US job's alert step sees: its scoped store
    keys = {d["_id"] for d in storage.alerts.alerts.find({})}
    assert "us_analysis_stale:2025-09-22" in keys
    # KRX's analysis is read from KRX's collections (never analysed, 1 session: not stale), not from the US ones
    assert not any(k.startswith("analysis_stale:") for k in keys)


def test_a_second_markets_quarantined_bars_are_alerted_with_its_own_redo(make_settings, monkeypatch):
    monkeypatch.setattr(lib.spine.registry, "_registry", two_markets())
    settings = make_settings()
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    held = {"ticker": "AAPL", "day": dt.date(2025, 9, 30), "market": "Q", "reason": "close 500.00 is +96.1%",
            "bar": {"close": 500.0}}
    storage.scoped("us_").bad_data.quarantine_bars([held], AS_OF, "us.stocks")
    storage.bad_data.quarantine_bars([{**held, "ticker": "005930", "market": "KOSPI"}], AS_OF)  # KRX's, same day
    evaluate(storage, settings, AS_OF)
    alerts = {d["_id"]: d for d in storage.alerts.alerts.find({})}
    assert {"quarantine:2025-09-30", "us_quarantine:2025-09-30"} <= set(alerts)
    assert "AAPL (Q)" in alerts["us_quarantine:2025-09-30"]["text"]
    assert "`python us_stocks_update.py --redo 2025-09-30`" in alerts["us_quarantine:2025-09-30"]["text"]
    assert "005930 (KOSPI)" in alerts["quarantine:2025-09-30"]["text"]


def test_check_db_lists_each_markets_quarantined_bars_with_its_redo(make_settings, monkeypatch, capsys):
    monkeypatch.setattr(lib.spine.registry, "_registry", two_markets())
    settings = make_settings()
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    held = {"ticker": "AAPL", "day": dt.date(2025, 9, 30), "market": "US", "reason": "close 500.00 is 2.04x",
            "bar": {"close": 500.0}}
    storage.scoped("us_").bad_data.quarantine_bars([held], AS_OF, "us.stocks")
    check_db.main(["--today", "2025-10-01", "--json"], settings=settings)
    body = json.loads(capsys.readouterr().out)
    assert body["quarantine"]["count"] == 0  # KRX's (the first market's), as before
    krx, us = body["quarantines"]
    assert (krx["dataset"], krx["count"]) == ("krx.bars", 0)
    assert (us["dataset"], us["count"], us["latest"][0]["ticker"]) == ("us.stocks", 1, "AAPL")
    assert us["redo"] == "run `python us_stocks_update.py --redo DAY`"
    check_db.main(["--today", "2025-10-01"], settings=settings)
    out = capsys.readouterr().out
    assert "1 bar(s) held in us_system_info.bad_data" in out and "AAPL" in out
    # an install that does not run US stocks sees KRX's section only, as before
    monkeypatch.setattr(lib.spine.registry, "_registry", two_markets(off=lambda _: "US_STOCKS is false"))
    check_db.main(["--today", "2025-10-01", "--json"], settings=settings)
    assert [q["dataset"] for q in json.loads(capsys.readouterr().out)["quarantines"]] == ["krx.bars"]


def test_a_second_markets_picks_are_alerted_under_its_own_keys(make_settings, monkeypatch):
    from tests.us_scope import LAST_US_DAY, NEW_YORK, run_us_analysis

    monkeypatch.setattr(lib.spine.registry, "_registry", two_markets())
    settings = make_settings(us_sources=["replay"], us_replay_dir=US_SAMPLE, analysis_quota_per_run=100,
                             alert_strategies=["rs_leaders"])
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    seed_us(storage)
    as_of = dt.datetime.combine(LAST_US_DAY, dt.time(20), tzinfo=NEW_YORK)
    assert run_us_analysis(storage, settings, as_of, lambda: AS_OF) == 0
    evaluate(storage, settings, AS_OF, as_of)  # the alert step of any job
    alerts = {d["_id"]: d for d in storage.alerts.alerts.find({"kind": "picks"})}
    assert set(alerts) == {"us_picks:rs_leaders:2025-09-30"}  # KRX has no analysed day: no picks of its own
    assert alerts["us_picks:rs_leaders:2025-09-30"]["title"].startswith("rs_leaders (US stocks (XNYS)): ")


def test_a_dataset_its_setting_turns_on_is_expected_without_markets_named(make_settings):
    from lib.ops.status_markets import expected_jobs
    from lib.spine.registry import registry

    on, off = make_settings(markets=[], us_stocks=True), make_settings(markets=[], us_stocks=False)
    # a fresh install: the first dataset's setup, and US stocks' once US_STOCKS=true says this install runs them
    assert expected_jobs(on, registry(), set()) == {"daily_update", "us_stocks_update"}
    assert expected_jobs(off, registry(), set()) == {"daily_update"}
    # an install set up so far for the ETFs only
    assert expected_jobs(on, registry(), {"etf_pipeline"}) == {"etf_pipeline", "us_stocks_update"}
    assert expected_jobs(off, registry(), {"etf_pipeline"}) == {"etf_pipeline"}
