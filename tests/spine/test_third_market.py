"""A third market plugs in as one new package and nothing else: written here to a temporary folder appended to
`lib.markets.__path__`, with its DATASETS, a tiny collector, a replay source over real closes (SPY and QQQ of
tests/fixtures/us_etf_small.csv, relabelled as London listings), its own exchange calendar (XLON) and its settings
from the environment. The real run_script collects it; check_db, `/status`, `/health` and the alerts show it,
fresh, then stale, then failed."""

from __future__ import annotations

import datetime as dt
import sys
import textwrap

import pytest
from fastapi.testclient import TestClient

import lib.markets
from api.app import create_app
from lib.cli import run_script
from lib.ops.alerts import evaluate
from lib.ops.status import gather
from lib.ops.status_view import render_text
from lib.spine.catchup import daily_update, manual_setup
from lib.spine.registry import registry, reset_registry
from lib.storage import Storage, get_client
from tests.conftest import FIXTURES

D = dt.date
LONDON_MARKET = '''
    """A toy London market: two listings' closes from a CSV (LSE_REPLAY_PATH), on the XLON calendar."""

    from __future__ import annotations

    import csv
    import datetime as dt
    import os
    from zoneinfo import ZoneInfo

    from lib.spine.datasets import Dataset


    def _calendar(settings):
        from lib.spine.calendar import TradingCalendar

        return TradingCalendar(exchange="XLON", settings_prefix="LSE")


    def _market(settings):
        from lib.errors import ConfigError, EmptyAnswerError
        from lib.spine.chain import Attempt, DayUnavailable, Request, Source, SourceChain
        from lib.spine.market import Collector, Fetched, Market

        path = os.environ.get("LSE_REPLAY_PATH", "")
        if not os.path.isfile(path):
            raise ConfigError(f"LSE_REPLAY_PATH={path!r} is no file: set it to the closes CSV")
        calendar = _calendar(settings)
        with open(path) as handle:
            rows = list(csv.DictReader(handle))
        closes = {(r["ticker"], dt.date.fromisoformat(r["date"])): float(r["close"]) for r in rows}

        class Replay(Source):
            name = "lse_replay"
            network = False

            def build_query(self, request):
                return request

            def fetch_raw(self, query):
                return {d: closes[(query.part, d)] for d in query.days if (query.part, d) in closes}

            def normalise(self, raw, query):
                return raw

            def validate(self, data, query):
                if not data:
                    raise EmptyAnswerError(f"lse_replay {query}: no rows")
                return data

            def available_at(self, day):
                return calendar.close_at(day) + dt.timedelta(minutes=30)

        class Closes(Collector):
            parts = ("VUSA", "EQQQ")
            counters = ("closes",)

            def fetch(self, chain, wanted, now):
                for part in self.parts:
                    days = tuple(sorted(d for d, parts in wanted.items() if part in parts))
                    try:
                        delivery = chain.fetch(Request(part, days), now)
                    except DayUnavailable as exc:
                        yield from (Fetched(day, part, problem=exc) for day in days)
                        continue
                    for day in days:
                        if day in delivery.data:
                            yield Fetched(day, part, delivery=type(delivery)(delivery.source, delivery.data[day]))
                        else:
                            empty = Attempt(delivery.source, "empty", f"{part} {day}: no row", False)
                            yield Fetched(day, part, problem=DayUnavailable(Request(part, (day,)), [empty]))

            def store(self, ctx, days):
                ctx.counters["closes"] += sum(len(d.delivered) for d in days)

            def rows(self, data):
                return 1

        chain = SourceChain([Replay()], min_gap_seconds=0, sleep=lambda _s: None)
        return Market("LSE", "lse_update", "lse_collection", calendar, chain, Closes(), "lse_update.py --setup")


    DATASETS = (
        Dataset(market="lse", kind="bars", label="LSE (XLON)", cadence="session", job="lse_update",
                lock="lse_collection", tz=ZoneInfo("Europe/London"), setup="run `python lse_update.py --setup`",
                redo="run `python lse_update.py --redo {day}`", closed_setting="LSE_EXTRA_CLOSED_DAYS",
                collectors=("lse_update", "lse_setup"), calendar=_calendar, build=_market,
                schedule="18:00 Europe/London Mon-Fri"),
    )
'''


@pytest.fixture
def london(tmp_path, monkeypatch):
    """The London package on the markets' path, its closes file in LSE_REPLAY_PATH; removed afterwards."""
    (tmp_path / "lse").mkdir()
    (tmp_path / "lse" / "__init__.py").write_text(textwrap.dedent(LONDON_MARKET))
    closes = tmp_path / "closes.csv"
    rows = (FIXTURES / "us_etf_small.csv").read_text().replace(",SPY,", ",VUSA,").replace(",QQQ,", ",EQQQ,")
    closes.write_text(rows)
    monkeypatch.setattr(lib.markets, "__path__", [*lib.markets.__path__, str(tmp_path)])
    monkeypatch.setenv("LSE_REPLAY_PATH", str(closes))
    reset_registry()
    yield closes
    sys.modules.pop("lib.markets.lse", None)
    reset_registry()


def _run(job: str, day: dt.date, settings, clock) -> int:
    def body(market):
        if job == "lse_setup":
            return lambda ctx: manual_setup(ctx, market, sessions=5)
        return lambda ctx: daily_update(ctx, market)

    code = run_script("lse.bars", job, day, settings, body, clock)
    clock.advance(minutes=1)
    return code


def _london_evening(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 21, 0, tzinfo=registry().get("lse.bars").tz)


def test_a_third_market_is_one_new_package_and_shows_in_check_db_status_health_and_alerts(
    london, make_settings, clock, monkeypatch
):
    settings = make_settings()
    assert [d.key for d in registry().with_cadence("session")] == ["krx.bars", "lse.bars", "us.etf_bars", "us.stocks"]
    assert _run("lse_setup", D(2024, 11, 8), settings, clock) == 0
    storage = Storage(get_client("mongomock://"))
    days = storage.jobs.day_records("lse_update")
    assert [d["date_kst"] for d in days] == ["2024-11-04", "2024-11-05", "2024-11-06", "2024-11-07", "2024-11-08"]
    assert {d["status"] for d in days} == {"completed"}
    assert storage.jobs.latest_run("lse_setup")["date_kst"] == "2024-11-08"  # the London date of the run

    # check_db: its section, judged by its own calendar; KRX and the US are not set up here
    fresh = gather(storage, settings, _london_evening(D(2024, 11, 8)), sizes=False)
    text = render_text(fresh)
    assert "LSE (XLON) - day records of lse_update" in text
    assert "2024-11-04 .. 2024-11-08: 5 session(s) (5 completed, 0 no_data)" in text
    assert fresh.attention == [] and fresh.exit_code == 0

    # /status and /health, the app's clock on Monday 11 Nov evening in London (Friday 8 Nov is the due session)
    monday = _london_evening(D(2024, 11, 11))
    client = TestClient(create_app(settings, storage=storage, clock=lambda: monday))
    status = client.get("/status").json()
    [lse] = [m for m in status["markets"] if m["job_name"] == "lse_update"]
    assert lse["dataset"] == "lse.bars" and lse["last_day"] == "2024-11-08" and lse["stale"] is False
    health = client.get("/health").json()
    assert set(health["markets"]) == {"lse"} and health["status"] == "ok"
    assert health["markets"]["lse"]["expected_collected_day"] == "2024-11-08"

    # a week later with nothing collected: stale in all four places
    later = _london_evening(D(2024, 11, 15))
    stale = gather(storage, settings, later, sizes=False)
    assert any(line.startswith("LSE (XLON): stale: 4 session(s) after the last collected day 2024-11-08")
               for line in stale.attention) and stale.exit_code == 1
    late = TestClient(create_app(settings, storage=storage, clock=lambda: later))
    assert late.get("/health").json()["markets"]["lse"]["stale"] is True
    assert [m["stale"] for m in late.get("/status").json()["markets"] if m["job_name"] == "lse_update"] == [True]
    evaluate(storage, settings, later, later)
    assert storage.alerts.known_alert_keys(["stale:lse_update:2024-11-08"]) == {"stale:lse_update:2024-11-08"}

    # its settings broken: the run stops before it starts, recorded as a failed run, alerted and in check_db
    monkeypatch.setenv("LSE_REPLAY_PATH", str(london.parent / "gone.csv"))
    assert _run("lse_update", D(2024, 11, 15), settings, clock) == 2
    failed = storage.jobs.latest_run("lse_update")
    assert failed["status"] == "failed" and "LSE_REPLAY_PATH" in failed["error"]
    evaluate(storage, settings, later, later)
    assert storage.alerts.known_alert_keys([f"job_failed:lse_update:{failed['_id']}"])
    broken = gather(storage, settings, later, sizes=False)
    assert any(line.startswith("lse_update: the last run failed") for line in broken.attention)

    # fixed again: the catch-up collects the missed week from the same package
    monkeypatch.setenv("LSE_REPLAY_PATH", str(london))
    assert _run("lse_update", D(2024, 11, 15), settings, clock) == 0
    assert storage.jobs.last_done_day("lse_update") == D(2024, 11, 15)
