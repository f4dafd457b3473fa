"""A watermark dataset registered through a market's DATASETS (here one more Dataset in the US market's tuple, as
the README's worked example says) shows in check_db, `/status`, `/health` and the alerts with no edit elsewhere:
fresh after a run, stale once its lag passes `stale_after`, failed when its source fails. A dataset of a market
this install does not run (MARKETS) is left out, as the session datasets are. The feed is XLF's real adjusted
closes (tests/spine/feeds.py)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

import lib.markets.us
from api.app import create_app
from lib.cli import run_watermark_script
from lib.errors import ConfigError, TransientSourceError
from lib.ops.alerts import evaluate
from lib.ops.status import gather
from lib.ops.status_view import render_text, to_json
from lib.spine.datasets import Dataset
from lib.spine.registry import registry, reset_registry
from lib.spine.watermark import watermark_job
from lib.storage import Storage, get_client
from tests.spine.feeds import CloseSeries

NY = ZoneInfo("America/New_York")
KEY = "us.xlf_closes"


def _raise():
    raise TransientSourceError("FRED answered 503")


def _reader(settings):
    return CloseSeries(limit=10)


XLF = Dataset(market="us", kind="xlf_closes", label="XLF closes (series)", cadence="watermark", job="xlf_closes",
              lock="xlf_closes", tz=NY, setup="run `python xlf_closes.py`", build=_reader,
              stale_after=dt.timedelta(days=3), schedule="23:00 America/New_York Mon-Fri")


@pytest.fixture
def xlf_registered(monkeypatch):
    """The US market's ETF bars with one more, a watermark dataset (instead of the market's own, so it is the one
    shown); the registry discovered again around it."""
    monkeypatch.setattr(lib.markets.us, "DATASETS", (lib.markets.us.DATASETS[0], XLF))
    reset_registry()
    yield registry().get(KEY)
    reset_registry()


def late(day: dt.date) -> dt.datetime:
    """23:00 UTC that day: after its close is published."""
    return dt.datetime.combine(day, dt.time(23, 0), tzinfo=dt.UTC)


def run(storage, settings, clock, as_of, reader=None) -> int:
    code = watermark_job(settings, storage, as_of, clock, registry().get(KEY), reader, sleep=lambda _s: None)
    clock.advance(minutes=1)
    return code


def test_a_registered_watermark_dataset_shows_in_check_db_status_health_and_alerts(
    xlf_registered, make_settings, clock
):
    settings = make_settings(markets=["us"])
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    assert KEY in [d.key for d in registry().with_cadence("watermark")]
    # Its cron script: 02:00 UTC on Saturday is still Friday evening in New York, the dataset's zone.
    friday = dt.datetime(2024, 11, 30, 2, 0, tzinfo=dt.UTC)
    clock.now = friday
    assert run_watermark_script(KEY, None, settings, clock) == 0
    assert storage.jobs.latest_run("xlf_closes")["date_kst"] == "2024-11-29"
    assert storage.watermarks.item_count(KEY) == 20

    # check_db, an hour later: its section, not stale
    fresh = gather(storage, settings, friday + dt.timedelta(hours=1), sizes=False)
    [state] = fresh.watermarks
    assert (state.dataset, state.items, state.stale) == (KEY, 20, False)
    assert "XLF closes (series) - read by watermark (us.xlf_closes)" in render_text(fresh)
    assert not [line for line in fresh.attention if "XLF" in line]
    [plain] = json.loads(to_json(fresh))["watermarks"]  # check_db --json
    assert (plain["dataset"], plain["items"], plain["lag"]) == (KEY, 20, 3600)

    # /status and /health on the app's clock
    app = TestClient(create_app(settings, storage=storage, clock=lambda: friday + dt.timedelta(hours=1)))
    [shown] = app.get("/status").json()["watermarks"]
    assert (shown["dataset"], shown["stale"], shown["lag"]) == (KEY, False, 3600)  # seconds, as check_db --json
    health = app.get("/health").json()
    assert health["watermarks"][KEY]["stale"] is False and health["watermarks"][KEY]["lag_seconds"] == 3600
    assert health["markets"]["us"]["stale"] is True  # its bars are not collected in this test

    # a week without a run: stale in check_db, /status, /health and an alert, once
    later = late(dt.date(2024, 12, 6))
    stale = gather(storage, settings, later, sizes=False)
    # said for people: a rounded duration and the read-through in KST (stored as naive UTC 02:00)
    assert "XLF closes (series): stale: 6 d 21 h behind (read through 2024-11-30 11:00 KST)" in stale.attention
    assert re.search(r"lag +6 d 21 h - STALE", render_text(stale))
    assert stale.exit_code == 1
    late_app = TestClient(create_app(settings, storage=storage, clock=lambda: later))
    assert [w["stale"] for w in late_app.get("/status").json()["watermarks"]] == [True]
    body = late_app.get("/health").json()
    assert body["watermarks"][KEY]["stale"] is True and body["status"] == "stale" and body["collection_stale"]
    evaluate(storage, settings, later, later)
    key = "stale:us.xlf_closes:2024-11-30T02:00:00"
    assert storage.alerts.known_alert_keys([key]) == {key}

    # its source failing: a failed run in check_db and an alert naming the job
    clock.now = later
    assert run(storage, settings, clock, later, CloseSeries(limit=10, failures={i: _raise for i in (1, 2, 3)})) == 1
    failed = storage.jobs.latest_run("xlf_closes")
    broken = gather(storage, settings, later, sizes=False)
    assert any(line.startswith("xlf_closes: the last run failed") for line in broken.attention)
    assert any("FRED answered 503" in line for line in broken.attention if line.startswith("XLF closes"))
    evaluate(storage, settings, later, later)
    assert storage.alerts.known_alert_keys([f"job_failed:xlf_closes:{failed['_id']}"])


def test_a_watermark_dataset_of_a_market_this_install_does_not_run_is_left_out(
    xlf_registered, storage, make_settings, clock
):
    settings = make_settings(markets=["krx"])
    now = late(dt.date(2024, 11, 29))
    status = gather(storage, settings, now, sizes=False)
    assert [w.dataset for w in status.watermarks if w.dataset.startswith("us.")] == []
    assert not [line for line in status.attention if "XLF" in line]
    health = TestClient(create_app(settings, storage=storage, clock=lambda: now)).get("/health").json()
    assert KEY not in health["watermarks"] and set(health["watermarks"]) == {w.dataset for w in status.watermarks}
    evaluate(storage, settings, now, now)
    assert not storage.alerts.known_alert_keys(["stale:us.xlf_closes:never"])


def test_without_markets_a_watermark_dataset_shows_once_it_has_run(xlf_registered, storage, make_settings, clock):
    settings = make_settings(markets=[])
    now = late(dt.date(2024, 11, 29))
    assert gather(storage, settings, now, sizes=False).watermarks == []  # registered, never run: not this install's
    assert run(storage, settings, clock, now) == 0
    assert [w.dataset for w in gather(storage, settings, now, sizes=False).watermarks] == [KEY]


def test_its_script_refuses_a_wrong_dataset_and_records_a_reader_that_cannot_be_built(
    xlf_registered, make_settings, clock, monkeypatch
):
    settings = make_settings(markets=["us"])
    assert run_watermark_script("us.no_such_kind", None, settings, clock) == 2
    assert run_watermark_script("us.etf_bars", None, settings, clock) == 2  # a session dataset: not this script's

    def no_key(_settings):
        raise ConfigError("FRED_API_KEY is not set: set it in .env")

    monkeypatch.setattr(lib.markets.us, "DATASETS", (*lib.markets.us.DATASETS[:1], replace(XLF, build=no_key)))
    reset_registry()
    assert run_watermark_script(KEY, None, settings, clock) == 2
    stopped = Storage(get_client("mongomock://"), settings.mongodb_db_prefix).jobs.latest_run("xlf_closes")
    assert stopped["status"] == "failed" and "FRED_API_KEY" in stopped["error"]


def test_a_dataset_whose_key_is_blank_is_off_not_stale_and_its_script_says_so_and_exits_0(
    storage, make_settings, clock, capsys
):
    import collect

    settings = make_settings(markets=["us"], us_news=True)
    now = late(dt.date(2025, 9, 30))
    status = gather(storage, settings, now, sizes=False)
    states = {w.dataset: w for w in status.watermarks}
    assert "FRED_API_KEY is blank" in states["us.macro"].off and not states["us.macro"].stale
    assert re.search(r"state +off: FRED_API_KEY is blank", render_text(status))
    assert not [line for line in status.attention if "FRED" in line or "US macro" in line]
    # on, but never read: what to run is said
    assert states["us.news"].stale and states["us.news"].off is None
    assert "US news (Yahoo): stale: nothing read yet: run `python collect.py us.news`" in status.attention
    health = TestClient(create_app(settings, storage=storage, clock=lambda: now)).get("/health").json()
    assert "FRED_API_KEY" in health["watermarks"]["us.macro"]["off"] and not health["watermarks"]["us.macro"]["stale"]
    evaluate(storage, settings, now, now)
    assert not [a for a in storage.alerts.alerts.find({}) if "us.macro" in a["_id"]]

    clock.now = now
    capsys.readouterr()
    assert collect.main(["us.macro"], settings=settings) == 0
    [line] = capsys.readouterr().err.strip().splitlines()  # one line
    assert "INFO us.macro is off: FRED_API_KEY is blank" in line
    assert storage.jobs.latest_run("us_macro") is None  # nothing recorded: an off dataset is not a failure
    assert collect.main(["us.nope"], settings=settings) == 2
    assert collect.main([], settings=settings) == 2


def test_collect_with_a_wrong_setting_says_so_once_for_all_the_named_datasets(monkeypatch, capsys):
    import collect

    monkeypatch.setenv("MONGODB_URI", "mongomock://")
    monkeypatch.setenv("KRX_NEWS_RSS_FEEDS", "garbage")
    capsys.readouterr()
    assert collect.main(["krx.news", "us.macro", "krx.macro"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()  # one line, not one per dataset
    assert "KRX_NEWS_RSS_FEEDS" in line and "'garbage' is not name=URL" in line
