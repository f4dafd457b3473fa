"""The watermark cadence on real data: XLF's re-based adjusted closes (a revisable series) and SPY/QQQ big moves
(an event stream with overlapping pages), run as a job under the runner on the embedded MongoDB."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import mongomock_ng
import numpy as np
import pytest

from lib.errors import ConfigError, SourceBlockedError, TransientSourceError
from lib.spine.datasets import Dataset
from lib.spine.watermark import Mark, item_history, items_known_at, watermark_job, watermark_state
from lib.storage import Storage
from tests.batch_cut import BatchCut, cut_points
from tests.helpers import kill_at_write, restarted
from tests.spine.feeds import CloseSeries, MoveEvents, at_close, xlf_vintages

NY = ZoneInfo("America/New_York")
SERIES = Dataset("test", "xlf_closes", "XLF adjusted closes", "watermark", "xlf_closes", "xlf_closes", NY, "",
                 stale_after=dt.timedelta(days=3))
EVENTS = Dataset("test", "moves", "SPY/QQQ big moves", "watermark", "moves", "moves", NY, "",
                 stale_after=dt.timedelta(days=3))
EX_DAY = dt.date(2024, 12, 23)  # XLF's ex-dividend session in the fixture (0.206 USD)


def late(day: dt.date) -> dt.datetime:
    """22:00 UTC on that day: after its close is published."""
    return dt.datetime.combine(day, dt.time(22, 0), tzinfo=dt.UTC)


def run(storage, settings, clock, as_of, reader, dataset=SERIES) -> int:
    code = watermark_job(settings, storage, as_of, clock, dataset, reader, sleep=lambda _s: None)
    clock.advance(minutes=1)
    return code


def stored(storage) -> dict[str, list[dict]]:
    """Everything the watermark family holds, by collection, and the items it refused (system_info.bad_data),
    ordered by `_id`."""
    db = storage.datasets_db
    held = {name: sorted(db[name].find({}), key=lambda d: d["_id"]) for name in sorted(db.list_collection_names())}
    return held | {"bad_data": sorted(storage.bad_data.bad_data.find({}), key=lambda d: d["_id"])}


@pytest.fixture
def settings(make_settings):
    return make_settings()


def sessions_through(day: dt.date) -> int:
    return len({r["date"] for r in xlf_vintages() if r["date"] <= day.isoformat()})


# --- reading, resuming, storing once --------------------------------------------------------------------


def test_first_run_stores_every_observation_once_and_a_rerun_reads_nothing_again(storage, settings, clock):
    reader = CloseSeries(limit=10)
    assert run(storage, settings, clock, late(dt.date(2024, 11, 29)), reader) == 0
    assert storage.watermarks.item_count(SERIES.key) == sessions_through(dt.date(2024, 11, 29)) == 20
    assert len(reader.calls) == 2 and reader.rows_served == 20
    record = storage.jobs.latest_run(SERIES.job)
    assert (record["items_new"], record["items_revised"], record["pages"], record["lag_seconds"]) == (20, 0, 2, 0)

    again = CloseSeries(limit=10)
    assert run(storage, settings, clock, late(dt.date(2024, 11, 29)), again) == 0
    assert again.rows_served == 0 and storage.jobs.latest_run(SERIES.job)["items_new"] == 0


def test_after_an_outage_the_run_resumes_from_the_watermark_and_loses_nothing(storage, settings, clock):
    run(storage, settings, clock, late(dt.date(2024, 11, 15)), CloseSeries(limit=10))
    cursor = storage.watermarks.watermark(SERIES.key)["cursor"]
    resumed = CloseSeries(limit=10)
    # No run for eight weeks (the dividend's re-basing happened meanwhile).
    assert run(storage, settings, clock, late(dt.date(2025, 1, 10)), resumed) == 0
    assert resumed.calls[0].after == cursor
    already = sessions_through(dt.date(2024, 11, 15))
    published = [r for r in xlf_vintages() if r["known"] <= late(dt.date(2025, 1, 10)).isoformat()]
    assert resumed.rows_served == len(published) - already  # only what was not yet stored

    straight = Storage(mongomock_ng.MongoClient(), prefix="test_")
    run(straight, settings, clock, late(dt.date(2025, 1, 10)), CloseSeries(limit=7))
    assert stored(storage)["items"] == stored(straight)["items"]
    assert stored(storage)["vintages"] == stored(straight)["vintages"]


def test_overlapping_pages_store_each_event_once(storage, settings, clock):
    reader = MoveEvents(limit=3)
    assert run(storage, settings, clock, late(dt.date(2025, 1, 31)), reader, EVENTS) == 0
    record = storage.jobs.latest_run(EVENTS.job)
    assert storage.watermarks.item_count(EVENTS.key) == 15 == record["items_new"]
    assert record["items_unchanged"] > 0  # each page repeated the previous one's last events
    assert run(storage, settings, clock, late(dt.date(2025, 1, 31)), MoveEvents(limit=3), EVENTS) == 0
    assert storage.watermarks.item_count(EVENTS.key) == 15 and storage.jobs.latest_run(EVENTS.job)["items_new"] == 0


# --- revisions and point in time ------------------------------------------------------------------------


def test_a_revision_keeps_the_earlier_value_with_when_it_was_known(storage, settings, clock):
    run(storage, settings, clock, late(dt.date(2024, 12, 20)), CloseSeries())
    before = storage.watermarks.stored_items(SERIES.key, ["XLF:2024-12-02"])["XLF:2024-12-02"]["data"]["value"]
    run(storage, settings, clock, late(dt.date(2024, 12, 27)), CloseSeries())

    record = storage.jobs.latest_run(SERIES.job)
    assert record["items_revised"] == sessions_through(dt.date(2024, 12, 20)) == 35
    history = item_history(storage, SERIES.key, "XLF:2024-12-02")
    assert [(h.data["value"], h.known_at) for h in history] == [
        (before, at_close(dt.date(2024, 12, 2)).replace(tzinfo=None)),
        (pytest.approx(before * 47.64091873168945 / (47.64091873168945 + 0.206)),
         at_close(EX_DAY).replace(tzinfo=None)),
    ]
    assert storage.watermarks.vintage_count(SERIES.key) == 35


def test_what_was_known_at_a_moment_is_the_vintage_current_then(storage, settings, clock):
    run(storage, settings, clock, late(dt.date(2025, 1, 31)), CloseSeries(limit=25))
    day_before = items_known_at(storage, SERIES.key, dt.datetime(2024, 12, 23, 15, 0, tzinfo=dt.UTC))
    day_after = items_known_at(storage, SERIES.key, late(EX_DAY))
    assert len(day_before) == 35 and len(day_after) == 36  # 2024-12-23's own close was not yet published
    old, new = {i.key: i.data["value"] for i in day_before}, {i.key: i.data["value"] for i in day_after}
    assert old["XLF:2024-12-02"] > new["XLF:2024-12-02"]  # the dividend lowered the earlier closes
    assert all(i.known_at <= dt.datetime(2024, 12, 23, 15) for i in day_before)
    history = {h.known_at: h.data["value"] for h in item_history(storage, SERIES.key, "XLF:2024-12-02")}
    assert old["XLF:2024-12-02"] == history[at_close(dt.date(2024, 12, 2)).replace(tzinfo=None)]
    window = items_known_at(storage, SERIES.key, late(EX_DAY), dt.datetime(2024, 12, 16), dt.datetime(2024, 12, 20))
    assert [i.key for i in window] == [f"XLF:2024-12-{d}" for d in (16, 17, 18, 19, 20)]


# --- crash safety ---------------------------------------------------------------------------------------

SCENARIO = (dt.date(2024, 11, 8), dt.date(2024, 12, 27), dt.date(2025, 1, 31))


def _scenario(storage, settings, clock, crash_at: int | None) -> int:
    """Three runs over the re-basing; with crash_at, the process dies at that write and cron reruns it after the
    lock's timeout. Returns the writes counted."""
    writes = kill_at_write(storage, crash_at)
    for day in SCENARIO:
        restarted(lambda day=day: run(storage, settings, clock, late(day), CloseSeries(limit=20)), clock, settings)
    return writes["n"]


def test_a_run_killed_at_any_write_then_rerun_gives_the_same_store(storage, settings, clock):
    total = _scenario(storage, settings, clock, crash_at=None)
    expected = stored(storage)
    assert len(expected["items"]) == 61 and len(expected["vintages"]) == 35 and total > 20
    for crash_at in range(1, total + 1):
        crashed = Storage(mongomock_ng.MongoClient(), prefix="test_")
        _scenario(crashed, settings, clock, crash_at)
        assert stored(crashed) == expected, f"differs after a kill at write {crash_at}"
        assert all(r["status"] != "running" for r in crashed.jobs.runs(limit=100))


def test_a_batch_cut_partway_then_rerun_gives_the_same_store(storage, settings, clock):
    with BatchCut().installed() as counted:
        _scenario(storage, settings, clock, crash_at=None)
    expected = stored(storage)
    assert {p for p, _ in counted.calls} == {"test_datasets.items", "test_datasets.vintages"}
    for cut in cut_points(counted.calls):
        crashed = Storage(mongomock_ng.MongoClient(), prefix="test_")
        with BatchCut(cut).installed() as cutter:
            _scenario(crashed, settings, clock, crash_at=None)
        assert cutter.fired, f"{cut} never happened"
        assert stored(crashed) == expected, f"differs after {cut} ({counted.calls[cut.call - 1]})"


# --- lag, errors, bad items -----------------------------------------------------------------------------


def test_lag_and_stale_flag_follow_the_watermark(storage, settings, clock):
    before = watermark_state(storage, SERIES, late(dt.date(2024, 11, 8)))
    assert (before.items, before.read_through, before.lag, before.stale) == (0, None, None, True)
    run(storage, settings, clock, late(dt.date(2024, 11, 8)), CloseSeries())
    fresh = watermark_state(storage, SERIES, late(dt.date(2024, 11, 9)))
    assert fresh.read_through == late(dt.date(2024, 11, 8)).replace(tzinfo=None)
    assert (fresh.items, fresh.revisions, fresh.lag, fresh.stale) == (6, 0, dt.timedelta(days=1), False)
    assert fresh.cursor == "2024-11-08T21:00:00+00:00|2024-11-08"
    late_state = watermark_state(storage, SERIES, late(dt.date(2024, 11, 12)))
    assert (late_state.lag, late_state.stale) == (dt.timedelta(days=4), True)  # over its 3 days


def _raise(exc: Exception):
    def fail():
        raise exc
    return fail


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (TransientSourceError("HTTP 503 from the feed"), 1),
        (SourceBlockedError("the feed refused the API key"), 1),
        (ConfigError("XLF_FEED_KEY is not set: set it in .env"), 2),
    ],
)
def test_a_source_error_fails_the_run_with_its_exit_code_and_keeps_the_stored_pages(
    storage, settings, clock, error, code
):
    # The second page fails on every attempt: the first page stays stored, the watermark stays on it.
    reader = CloseSeries(limit=4, failures={n: _raise(error) for n in range(2, 6)})
    assert run(storage, settings, clock, late(dt.date(2024, 11, 29)), reader) == code
    record = storage.jobs.latest_run(SERIES.job)
    assert record["status"] == "failed" and str(error) in record["error"]
    assert storage.watermarks.item_count(SERIES.key) == 4 and record["items_new"] == 4
    assert storage.watermarks.watermark(SERIES.key)["cursor"] == "2024-11-06T21:00:00+00:00|2024-11-06"
    assert len(reader.calls) == (4 if isinstance(error, TransientSourceError) else 2)  # 3 attempts of page 2
    assert watermark_state(storage, SERIES, late(dt.date(2024, 11, 29))).last_error == str(error)
    if isinstance(error, SourceBlockedError):
        assert record["blocked_sources"] == {"xlf_series": str(error)}

    assert run(storage, settings, clock, late(dt.date(2024, 11, 29)), CloseSeries(limit=4)) == 0
    assert storage.watermarks.item_count(SERIES.key) == 20
    assert watermark_state(storage, SERIES, late(dt.date(2024, 11, 29))).last_error is None


def test_a_transient_error_is_retried_and_the_run_completes(storage, settings, clock):
    reader = CloseSeries(limit=10, failures={2: _raise(TransientSourceError("connection reset"))})
    assert run(storage, settings, clock, late(dt.date(2024, 11, 29)), reader) == 0
    assert len(reader.calls) == 3 and storage.watermarks.item_count(SERIES.key) == 20


def test_a_bad_item_is_rejected_with_its_reason_and_raw_value_and_the_rest_stored(storage, settings, clock):
    def corrupt(rows):
        return [dict(r, value=".") if r["date"] == "2024-11-05" else
                dict(r, value="-1.0") if r["date"] == "2024-11-06" else r for r in rows]

    assert run(storage, settings, clock, late(dt.date(2024, 11, 8)), CloseSeries(edit=corrupt)) == 0
    rejected = {r["key"]: r for r in storage.bad_data.rejected_records(dataset=SERIES.key)}
    assert rejected["XLF:2024-11-05"]["reason"] == "value '.' is not a number"
    assert rejected["XLF:2024-11-05"]["raw"]["value"] == "."
    assert rejected["XLF:2024-11-06"]["reason"] == "close -1.0 is not positive"
    assert storage.watermarks.item_count(SERIES.key) == 4 and storage.jobs.latest_run(SERIES.job)["rejected"] == 2
    assert storage.watermarks.watermark(SERIES.key)["read_through"] == late(dt.date(2024, 11, 8)).replace(tzinfo=None)

    run(storage, settings, clock, late(dt.date(2024, 11, 8)), CloseSeries(edit=corrupt))
    assert len(storage.bad_data.rejected_records(dataset=SERIES.key)) == 2  # a rerun records nothing twice


def test_an_event_without_a_time_and_an_unstorable_value_are_rejected(storage, settings, clock):
    class NumpyMoves(MoveEvents):
        def normalise(self, raw, query):
            page = super().normalise(raw, query)
            items = tuple(type(i)(i.key, i.at, {**i.data, "move_pct": np.int64(round(i.data["move_pct"]))}, i.known_at)
                          if i.key == "SPY:2024-11-06" else i for i in page.items)
            return type(page)(items, page.mark, page.more, page.rejected)

    reader = NumpyMoves(limit=3, broken=frozenset({"QQQ:2024-11-15"}))
    assert run(storage, settings, clock, late(dt.date(2025, 1, 31)), reader, EVENTS) == 0
    reasons = {r["key"]: r["reason"] for r in storage.bad_data.rejected_records(dataset=EVENTS.key)}
    assert reasons == {
        "QQQ:2024-11-15": "time '' is not ISO 8601",
        "SPY:2024-11-06": "data.move_pct: numpy.int64 is not storable (a plain str/int/float/...)",
    }
    assert storage.watermarks.item_count(EVENTS.key) == 13


def test_a_source_that_pages_without_moving_fails_the_run_instead_of_looping(storage, settings, clock, caplog):
    class Stuck(MoveEvents):
        def normalise(self, raw, query):
            page = super().normalise(raw, query)
            return type(page)(page.items, Mark(query.since, "page-1"), True, page.rejected)

    assert run(storage, settings, clock, late(dt.date(2025, 1, 31)), Stuck(limit=3), EVENTS) == 1
    assert "answered another page without moving past" in storage.jobs.latest_run(EVENTS.job)["error"]
    assert storage.watermarks.item_count(EVENTS.key) == 3  # what it did answer is kept


def test_retention_deletes_old_items_with_their_vintages_only(storage, settings, clock):
    run(storage, settings, clock, late(dt.date(2025, 1, 31)), CloseSeries(limit=50))
    cutoff = dt.datetime(2024, 12, 1)
    assert storage.watermarks.delete_items_before(SERIES.key, cutoff, dry_run=True) == 20
    assert storage.watermarks.item_count(SERIES.key) == 61
    assert storage.watermarks.delete_items_before(SERIES.key, cutoff) == 20
    assert (storage.watermarks.item_count(SERIES.key), storage.watermarks.vintage_count(SERIES.key)) == (41, 15)
    assert len(item_history(storage, SERIES.key, "XLF:2024-12-02")) == 2


def test_a_changed_value_claiming_the_stored_known_at_is_rejected_and_the_stored_value_kept(storage, settings, clock):
    class Restated(MoveEvents):
        def fetch_raw(self, query):
            raw = super().fetch_raw(query)
            return {**raw, "events": [dict(r, move_pct=9.99) if r["id"] == "SPY:2024-11-06" else r
                                      for r in raw["events"]]}

    run(storage, settings, clock, late(dt.date(2024, 11, 8)), MoveEvents(limit=3), EVENTS)
    storage.watermarks.watermarks.delete_one({"_id": EVENTS.key})  # read again from the start
    assert run(storage, settings, clock, late(dt.date(2024, 11, 8)), Restated(limit=3), EVENTS) == 0
    [bad] = storage.bad_data.rejected_records(dataset=EVENTS.key)
    assert bad["key"] == "SPY:2024-11-06" and "a second value known at the same time" in bad["reason"]
    assert bad["raw"]["data"]["move_pct"] == 9.99
    assert storage.watermarks.stored_items(EVENTS.key, ["SPY:2024-11-06"])["SPY:2024-11-06"]["data"]["move_pct"] == 2.49


def test_a_backlog_longer_than_a_run_reads_is_finished_by_the_next_runs(storage, settings, clock):
    class Bounded(CloseSeries):
        max_pages = 2

    assert run(storage, settings, clock, late(dt.date(2024, 11, 29)), Bounded(limit=4)) == 0
    record = storage.jobs.latest_run(SERIES.job)
    assert (storage.watermarks.item_count(SERIES.key), record["more_pages"]) == (8, True)
    assert watermark_state(storage, SERIES, late(dt.date(2024, 11, 29))).lag > dt.timedelta(days=10)
    for _ in range(2):
        run(storage, settings, clock, late(dt.date(2024, 11, 29)), Bounded(limit=4))
    assert storage.watermarks.item_count(SERIES.key) == 20
    assert watermark_state(storage, SERIES, late(dt.date(2024, 11, 29))).lag == dt.timedelta(0)


def test_without_source_vintages_an_edited_item_counts_from_when_it_was_read_and_the_past_keeps_the_first():
    """News and filings: `known_at` is the publication; a headline edited later is a revision known when it was
    read, so an analysis dated between the two sees the first headline, never the edit."""
    from lib.spine.watermark_page import Item, plan_page

    published = dt.datetime(2025, 6, 13, 1, 0)
    first = Item("005930|a1", published, {"title": "삼성전자, 2분기 실적 발표"}, published)
    read_at = dt.datetime(2025, 6, 16, 10, 0)
    plan = plan_page("krx.news", [first], {}, read_at, vintages=False)
    assert plan.new == 1 and plan.items[0]["known_at"] == published
    stored = {"005930|a1": plan.items[0]}

    edited = Item("005930|a1", published, {"title": "삼성전자, 2분기 영업이익 발표"}, published)
    later = dt.datetime(2025, 6, 17, 10, 0)
    revised = plan_page("krx.news", [edited], stored, later, vintages=False)
    assert revised.revised == 1 and revised.items[0]["known_at"] == later
    assert revised.vintages[0]["known_at"] == published and revised.vintages[0]["superseded_at"] == later
    # The same edit read again the next day is unchanged, not another revision.
    again = plan_page("krx.news", [edited], {"005930|a1": revised.items[0]}, later + dt.timedelta(days=1),
                      vintages=False)
    assert (again.new, again.revised, again.unchanged) == (0, 0, 1)
    # With source vintages, the same edit claiming the stored time is refused instead.
    assert plan_page("krx.news", [edited], stored, later).rejected
    # A filing corrected on its own day: known at that day's end, later than the run; the correction comes after.
    day_end = dt.datetime(2025, 6, 13, 14, 59, 59, 999000)  # 23:59:59.999 KST
    filing = plan_page("krx.disclosures", [Item("1", published, {"flags": ""}, day_end)], {}, read_at, False)
    corrected = Item("1", published, {"flags": "정"}, day_end)
    same_day = plan_page("krx.disclosures", [corrected], {"1": filing.items[0]}, day_end - dt.timedelta(hours=3),
                         vintages=False)
    assert same_day.revised == 1 and same_day.items[0]["known_at"] == day_end + dt.timedelta(milliseconds=1)
