"""us.macro on real FRED data: the recorded CSVs of data/sample/macro/fred (replay), a real two-vintage answer of
CPIAUCSL (tests/fixtures/macro) served to the live client through a fake session, FRED's error answers, and the
collect.py script end to end. No network."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import mongomock_ng
import pytest
import requests

import collect
from lib.context.read import macro_history, macro_latest
from lib.errors import RateLimitedError, TransientSourceError
from lib.markets.us.fred import FredMacroReader, FredQuery, series_of
from lib.markets.us.fred_client import FredClient
from lib.markets.us.fred_replay import FredReplay
from lib.ops.alerts import job_events
from lib.spine.registry import registry
from lib.spine.watermark import item_history, watermark_job
from lib.storage import Storage, get_client
from tests.helpers import SimulatedKill, kill_at_write, restarted

ROOT = Path(__file__).resolve().parents[3]
FRED_DIR = ROOT / "data" / "sample" / "macro" / "fred"
VINTAGES = ROOT / "tests" / "fixtures" / "macro" / "fred_CPIAUCSL_pc1_vintages.json"
KEY = "abcdef0123456789abcdef0123456789"  # a FRED-shaped key: it must never show up in a log or a record
DATASET = "us.macro"


def ny_evening(day: dt.date) -> dt.datetime:
    """23:00 New York (EDT) on that day, aware UTC."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(3, 0), tzinfo=dt.UTC)


def run(storage, settings, clock, as_of, reader) -> int:
    code = watermark_job(settings, storage, as_of, clock, registry().get(DATASET), reader, sleep=lambda _s: None)
    clock.advance(minutes=1)
    return code


def replay_reader(entries=("CPIAUCSL:pc1", "T10Y2Y", "DFF", "DGS10", "VIXCLS", "DEXKOUS"), years=3, reread=400):
    return FredMacroReader(series_of(list(entries)), FredReplay(FRED_DIR), years, reread)


def stored(storage) -> dict[str, list[dict]]:
    db = storage.datasets_db
    return {name: sorted(db[name].find({}), key=lambda d: d["_id"]) for name in sorted(db.list_collection_names())}


class FakeResponse:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self.body = body
        self.text = body if isinstance(body, str) else json.dumps(body)

    def json(self) -> Any:
        if isinstance(self.body, str):
            raise ValueError("not JSON")
        return self.body


class FakeSession:
    """Answers each GET with the next scripted answer (a FakeResponse, or an exception to raise)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def get(self, url: str, params: dict[str, Any], timeout: float) -> FakeResponse:
        self.calls.append(dict(params, url=url, timeout=timeout))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def settings(make_settings):
    return make_settings()


# --- normalising the recorded answers --------------------------------------------------------------------


def test_the_replay_stores_every_series_with_cpi_year_on_year_and_missing_days_as_none(storage, settings, clock):
    reader = replay_reader(("CPIAUCSL:pc1", "T10Y2Y", "DGS10"), years=1)
    assert run(storage, settings, clock, ny_evening(dt.date(2025, 9, 30)), reader) == 0
    items = {i.key: i for series in macro_history(storage, registry(), ny_evening(dt.date(2025, 12, 31))).values()
             for i in series}
    # pc1 from CPIAUCSL's index: BLS published the 12-month change of CPI-U as 2.7 % for July 2025 and 2.9 % for
    # August 2025; September's (published 2025-10-24) was not known on 2025-09-30.
    assert round(items["CPIAUCSL:2025-07-01"].data["value"], 1) == 2.7
    assert round(items["CPIAUCSL:2025-08-01"].data["value"], 1) == 2.9
    assert "CPIAUCSL:2025-09-01" not in items
    # FRED's blank (".") for Labor Day: stored as an observation without a value
    assert items["DGS10:2025-09-01"].data["value"] is None
    assert items["DGS10:2025-08-29"].data == {
        "series": "DGS10", "name": "US 10-year Treasury yield", "value": 4.23, "unit": "%", "frequency": "daily",
        "source": "fred"}
    assert items["T10Y2Y:2025-08-29"].data["unit"] == "percentage points"
    record = storage.jobs.latest_run("us_macro")
    assert (record["pages"], record["rejected"], record["lag_seconds"]) == (3, 0, 0)
    latest = {r.series: r for r in macro_latest(storage, registry(), ny_evening(dt.date(2025, 9, 30)))}
    assert set(latest) == {"CPIAUCSL", "T10Y2Y", "DGS10"}
    assert latest["CPIAUCSL"].date == dt.date(2025, 8, 1)  # the latest month known that evening


def test_a_dot_is_a_missing_value_and_a_value_that_is_not_a_number_is_rejected():
    reader = replay_reader(("DGS10",))
    query = reader.build_query(reader.start(ny_evening(dt.date(2025, 9, 30))), ny_evening(dt.date(2025, 9, 30)))
    raw = {"observations": [
        {"realtime_start": "2025-09-02", "realtime_end": "9999-12-31", "date": "2025-09-01", "value": "."},
        {"realtime_start": "2025-09-03", "realtime_end": "9999-12-31", "date": "2025-09-02", "value": "4.28"},
        {"realtime_start": "2025-09-04", "realtime_end": "9999-12-31", "date": "2025-09-03", "value": "n/a"},
    ]}
    page = reader.normalise(raw, query)
    assert [(i.key, i.data["value"]) for i in page.items] == [("DGS10:2025-09-01", None), ("DGS10:2025-09-02", 4.28)]
    [bad] = page.rejected
    assert bad.key == "DGS10:2025-09-03" and "'n/a' is not a number" in bad.reason
    assert (page.mark.read_through, page.mark.cursor, page.more) == (query.now, None, False)


def test_validate_refuses_a_non_finite_value_and_an_observation_after_it_was_known():
    reader = replay_reader(("DGS10",))
    query = FredQuery(reader.series[0], dt.date(2025, 1, 1), dt.date(2025, 1, 1), dt.date(2025, 9, 30),
                      ny_evening(dt.date(2025, 9, 30)), None)
    row = {"realtime_start": "2025-09-02", "realtime_end": "9999-12-31", "date": "2025-09-01", "value": "inf"}
    [item] = reader.normalise({"observations": [row]}, query).items
    assert reader.validate(item) == "value inf is not a finite number"
    early = dict(row, value="4.2", realtime_start="2025-08-01")
    [item] = reader.normalise({"observations": [early]}, query).items
    assert "observation date 2025-09-01 is impossible" in reader.validate(item)


# --- vintages: what a past analysis saw -------------------------------------------------------------------


def test_a_revised_cpi_is_seen_as_first_published_before_the_revision_and_revised_after(storage, settings, clock):
    session = FakeSession(FakeResponse(200, json.loads(VINTAGES.read_text())))
    reader = FredMacroReader(series_of(["CPIAUCSL:pc1"]), FredClient(KEY, 5, session), 4, 400)
    assert run(storage, settings, clock, ny_evening(dt.date(2026, 2, 20)), reader) == 0
    [call] = session.calls
    assert (call["series_id"], call["units"], call["output_type"], call["realtime_start"], call["realtime_end"]) == (
        "CPIAUCSL", "pc1", 1, "2022-02-20", "2026-02-20")
    record = storage.jobs.latest_run("us_macro")
    assert (record["items_new"], record["items_revised"]) == (3, 3)

    before = macro_history(storage, registry(), ny_evening(dt.date(2024, 6, 3)), series="CPIAUCSL")["CPIAUCSL"]
    after = macro_history(storage, registry(), ny_evening(dt.date(2026, 2, 20)), series="CPIAUCSL")["CPIAUCSL"]
    assert [i.data["value"] for i in before] == [6.34716, 5.98644, 4.98692]  # the 2023-05 vintage
    assert [i.data["value"] for i in after] == [6.32718, 5.95782, 4.91772]  # the 2026-02 vintage
    # The day after March 2023's release (2023-04-12): March as first published, with February before it.
    [reading] = macro_latest(storage, registry(), ny_evening(dt.date(2023, 4, 13)))
    assert (reading.date, reading.value, reading.previous_date, reading.previous) == (
        dt.date(2023, 3, 1), 4.98692, dt.date(2023, 2, 1), 5.98644)
    assert not macro_latest(storage, registry(), ny_evening(dt.date(2023, 2, 13)))  # before January's release
    history = item_history(storage, DATASET, "CPIAUCSL:2023-03-01")
    assert [h.known_at for h in history] == [dt.datetime(2023, 4, 13, 3, 59, 59, 999000),
                                             dt.datetime(2026, 2, 17, 4, 59, 59, 999000)]


def test_a_revision_published_after_the_last_read_is_stored_with_its_own_date(storage, settings, clock):
    """Two runs as FRED answers them: the first before the revision; the second asks for the values current
    since its last read, so FRED clips the old rows' realtime_start to that day (unchanged: nothing written)
    and adds the revised ones with the day they became current."""
    rows = json.loads(VINTAGES.read_text())["observations"]
    first = [dict(r, realtime_end="9999-12-31") for r in rows if r["realtime_end"] != "9999-12-31"]
    second = [dict(r, realtime_start=max(r["realtime_start"], "2023-04-30")) for r in rows]
    session = FakeSession(FakeResponse(200, {"observations": first}), FakeResponse(200, {"observations": second}))
    reader = FredMacroReader(series_of(["CPIAUCSL:pc1"]), FredClient(KEY, 5, session), 1, 400)
    assert run(storage, settings, clock, ny_evening(dt.date(2023, 5, 1)), reader) == 0
    assert run(storage, settings, clock, ny_evening(dt.date(2026, 2, 20)), reader) == 0
    assert [c["realtime_start"] for c in session.calls] == ["2022-05-01", "2023-04-30"]
    record = storage.jobs.latest_run("us_macro")
    assert (record["items_new"], record["items_unchanged"], record["items_revised"]) == (0, 3, 3)
    history = item_history(storage, DATASET, "CPIAUCSL:2023-01-01")
    assert [(h.data["value"], h.known_at.date()) for h in history] == [
        (6.34716, dt.date(2023, 2, 15)), (6.32718, dt.date(2026, 2, 17))]  # each day's end in New York, in UTC


def test_a_later_run_asks_only_for_values_current_since_its_last_read_and_a_rerun_changes_nothing(
    storage, settings, clock
):
    few = ("CPIAUCSL:pc1", "DGS10")
    assert run(storage, settings, clock, ny_evening(dt.date(2025, 8, 29)), replay_reader(few, years=1)) == 0
    session_reader = replay_reader(few, years=1)
    seen: list[FredQuery] = []
    original = session_reader.fetch_raw
    session_reader.fetch_raw = lambda query: seen.append(query) or original(query)  # type: ignore[method-assign]
    assert run(storage, settings, clock, ny_evening(dt.date(2025, 9, 30)), session_reader) == 0
    assert {(q.realtime_start, q.observation_start) for q in seen} == {
        (dt.date(2025, 8, 28), dt.date(2024, 7, 25))}
    record = storage.jobs.latest_run("us_macro")
    assert record["items_new"] > 0 and record["items_revised"] == 0 and record["rejected"] == 0
    assert run(storage, settings, clock, ny_evening(dt.date(2025, 9, 30)), replay_reader(few, years=1)) == 0
    assert storage.jobs.latest_run("us_macro")["items_new"] == 0


# --- crash safety -----------------------------------------------------------------------------------------


def _scenario(storage, settings, clock, crash_at):
    writes = kill_at_write(storage, crash_at)
    for day in (dt.date(2025, 8, 29), dt.date(2025, 9, 30)):
        restarted(lambda day=day: run(storage, settings, clock, ny_evening(day),
                                      replay_reader(("CPIAUCSL:pc1", "VIXCLS"), years=1, reread=40)),
                  clock, settings)
    return writes["n"]


def test_a_run_killed_at_any_write_then_rerun_gives_the_same_store(storage, settings, clock):
    total = _scenario(storage, settings, clock, crash_at=None)
    expected = stored(storage)
    assert len(expected["items"]) > 250 and total > 10
    for crash_at in range(1, total + 1):
        crashed = Storage(mongomock_ng.MongoClient(), prefix="test_")
        _scenario(crashed, settings, clock, crash_at)
        assert stored(crashed) == expected, f"differs after a kill at write {crash_at}"


def test_a_kill_mid_list_resumes_at_the_next_series(settings, clock):
    series = ("CPIAUCSL:pc1", "DGS10", "VIXCLS")
    for crash_at in range(1, 20):  # the first write after which the watermark names DGS10
        storage = Storage(mongomock_ng.MongoClient(), prefix="test_")
        kill_at_write(storage, crash_at)
        with pytest.raises(SimulatedKill):
            run(storage, settings, clock, ny_evening(dt.date(2025, 9, 30)), replay_reader(series, years=1))
        mark = storage.watermarks.watermark(DATASET)
        if mark and mark["cursor"] == "DGS10":
            break
    else:
        raise AssertionError("no kill left the watermark on DGS10")
    storage.on_write = None
    asked: list[str] = []
    rerun = replay_reader(series, years=1)
    rerun.fetch_raw = lambda query, read=rerun.fetch_raw: asked.append(query.series.id) or read(query)  # type: ignore
    clock.advance(minutes=settings.lock_timeout_minutes + 1)
    assert run(storage, settings, clock, ny_evening(dt.date(2025, 9, 30)), rerun) == 0
    assert asked == ["DGS10", "VIXCLS"]  # CPIAUCSL, stored before the kill, is not read again
    assert storage.watermarks.watermark(DATASET)["cursor"] is None
    assert set(storage.datasets_db["items"].distinct("data.series")) == {"CPIAUCSL", "DGS10", "VIXCLS"}


# --- errors and the key ------------------------------------------------------------------------------------

BAD_KEY = FakeResponse(400, {"error_code": 400, "error_message": "Bad Request.  The value for variable api_key is "
                             "not registered. Read https://fred.stlouisfed.org/docs/api/api_key.html for more "
                             "information."})


def test_a_refused_key_is_a_source_blocked_alert_and_the_key_is_in_no_log_or_record(
    storage, make_settings, clock, caplog
):
    settings = make_settings(fred_api_key=KEY)
    reader = FredMacroReader(series_of(["DGS10"]), FredClient(KEY, 5, FakeSession(BAD_KEY)), 3, 400)
    with caplog.at_level(logging.DEBUG):
        assert run(storage, settings, clock, ny_evening(dt.date(2025, 9, 30)), reader) == 1
    record = storage.jobs.latest_run("us_macro")
    assert "FRED refused FRED_API_KEY" in record["error"] and "not registered" in record["error"]
    assert set(record["blocked_sources"]) == {"fred"}
    alerts = job_events(storage, clock.now, dt.timedelta(days=1), registry())  # the alert step's job events
    assert f"source_blocked:fred:us_macro:{record['_id']}" in [a.key for a in alerts]
    # a connection error of requests carries the whole URL, key included: only its kind is kept
    leaky = requests.ConnectionError(f"HTTPSConnectionPool(host='api.stlouisfed.org'): Max retries exceeded with "
                                     f"url: /fred/series/observations?series_id=DGS10&api_key={KEY}")
    reader = FredMacroReader(series_of(["DGS10"]), FredClient(KEY, 5, FakeSession(leaky)), 3, 400)
    with caplog.at_level(logging.DEBUG):
        assert run(storage, settings, clock, ny_evening(dt.date(2025, 9, 30)), reader) == 1
    assert storage.jobs.latest_run("us_macro")["error"] == "FRED DGS10: connection failed (ConnectionError)"
    everything = json.dumps([*storage.jobs.runs(limit=100), *[a.text for a in alerts]], default=str)
    assert KEY not in everything and KEY not in caplog.text


@pytest.mark.parametrize(("answer", "error", "pause"), [
    (FakeResponse(429, {"error_code": 429, "error_message": "Too Many Requests."}), RateLimitedError, 60.0),
    (FakeResponse(503, "<html>Service Unavailable</html>"), TransientSourceError, None),
    (requests.Timeout("read timed out"), TransientSourceError, None),
])
def test_rate_limits_server_errors_and_timeouts_are_transient(answer, error, pause):
    client = FredClient(KEY, 5, FakeSession(answer))
    with pytest.raises(error) as raised:
        client.observations("DGS10", "lin", dt.date(2025, 1, 1), dt.date(2025, 1, 1), dt.date(2025, 9, 30))
    assert KEY not in str(raised.value)
    assert pause is None or raised.value.pause == pause


# --- the script ----------------------------------------------------------------------------------------------


def test_collect_reads_both_macro_datasets_from_the_replay_folders(make_settings):
    # one year back keeps the embedded database quick (its bulk upserts slow down with the page's size)
    settings = make_settings(us_macro_replay_dir=FRED_DIR, krx_macro_replay_dir=FRED_DIR.parent / "ecos",
                             us_macro_series="CPIAUCSL:pc1,DGS10", us_macro_first_run_years=1,
                             krx_macro_first_run_years=1)
    assert collect.main(["us.macro", "krx.macro", "--today", "2025-06-16"], settings=settings) == 0
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    moment = dt.datetime(2025, 6, 16, 23, 59, tzinfo=dt.UTC)
    latest = {r.series: r for r in macro_latest(storage, registry(), moment)}
    assert {"CPIAUCSL", "DGS10", "722Y001/0101000", "817Y002/010200000", "901Y009/0"} <= set(latest)
    assert (latest["817Y002/010200000"].date, latest["817Y002/010200000"].value) == (dt.date(2025, 6, 16), 2.483)
    assert storage.jobs.latest_run("us_macro")["status"] == "completed"
    assert storage.jobs.latest_run("krx_macro")["status"] == "completed"


def test_blank_keys_without_replay_folders_turn_both_off_in_one_line_each(make_settings, capsys):
    settings = make_settings()
    assert collect.main(["us.macro", "krx.macro"], settings=settings) == 0
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" INFO ", 1)[1] for line in lines] == [
        "us.macro is off: FRED_API_KEY is blank (a free key from fred.stlouisfed.org turns it on)",
        "krx.macro is off: ECOS_API_KEY is blank (a free key from ecos.bok.or.kr turns it on)"]
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    assert storage.jobs.latest_run("us_macro") is None and storage.jobs.latest_run("krx_macro") is None


@pytest.mark.parametrize(("value", "says"), [
    ("CPIAUCSL:yoy", "'CPIAUCSL:yoy' is not a FRED series id with optional units"),
    ("DGS10,DGS10:pc1", "a FRED series is listed twice"),
    ("dgs10", "'dgs10' is not a FRED series id"),
])
def test_a_wrong_series_setting_is_one_line_saying_what_to_fix(make_settings, value, says):
    from lib.errors import ConfigError

    with pytest.raises(ConfigError, match="US_MACRO_SERIES") as raised:
        make_settings(us_macro_series=value)
    assert says in str(raised.value)
