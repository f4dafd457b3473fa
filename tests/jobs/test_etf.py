"""etf_pipeline on the bundled real US data: the five stages, catch-up over holidays and a DST change, the
calendar overrides, rejected records, crash safety and determinism."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from functools import partial

import pytest

from lib.errors import TransientSourceError
from lib.log import KST
from lib.markets.us.market import us_calendar
from lib.markets.us.pipeline import etf_pipeline
from lib.markets.us.replay import UsReplaySource
from lib.markets.us.settings import us_settings
from lib.markets.us.yfinance_source import YFinanceSource
from lib.spine.calendar import TradingCalendar
from lib.spine.catchup import last_due_session
from lib.spine.chain import SourceChain
from lib.spine.runner import run_job
from tests.batch_cut import BatchCut, Cut, cut_points
from tests.conftest import US_SAMPLE
from tests.helpers import (
    CountingSource,
    SimulatedKill,
    etf_snapshot,
    kill_at_write,
    new_york,
    restarted,
    run_etf,
    us_test_market,
)
from tests.yahoo_stub import YahooStub

D = dt.date
ETFS = 15


def done(storage) -> list[dt.date]:
    return [
        D.fromisoformat(d["date_kst"]) for d in storage.jobs.day_records("etf_pipeline") if d["status"] == "completed"
    ]


def counting_market(settings, root=US_SAMPLE, failures=None, network=False):
    source = CountingSource(UsReplaySource(root), failures)
    source.network = network
    return us_test_market(settings, sources=[source]), source


def yahoo_like(calendar: TradingCalendar) -> SourceChain:
    """A chain whose one source publishes like Yahoo: an hour after each session's close."""
    return SourceChain([YFinanceSource(10, dt.timedelta(minutes=60), calendar.close_at)])


@pytest.fixture
def settings(make_settings):
    return make_settings(us_first_run_sessions=3)


def test_a_first_run_processes_the_last_sessions_through_all_five_stages(storage, settings, clock):
    market, source = counting_market(settings)
    assert run_etf(storage, settings, new_york(D(2025, 7, 31)), clock, market) == 0
    assert done(storage) == [D(2025, 7, 29), D(2025, 7, 30), D(2025, 7, 31)]
    # Stages 1-2: each ETF's bars in one request for the whole batch and the 25 sessions before it.
    etf_bars = [t for k, t in source.calls if k == "bars" and t in storage.etf.etf_meta()]
    assert len(etf_bars) == len(set(etf_bars)) == ETFS
    spy = storage.etf.etf_bars("SPY", D(2025, 7, 31), D(2025, 7, 31))[0]
    assert spy["close"] == pytest.approx(632.0800170898438)
    assert spy["price_change_percent"] == pytest.approx((632.0800170898438 / 634.4600219726562 - 1) * 100)
    assert storage.etf.etf_meta()["QQQ"]["etf_type"] == "benchmark+sector"
    # Stage 3: the worked example of tests/etf/test_trending.py, as stored.
    trending = {(r["period_days"], r["etf_ticker"]): r for r in storage.etf.trending_rows(D(2025, 7, 31))}
    assert len(trending) == 3 * ETFS
    assert sorted(t for (p, t), r in trending.items() if p == 20 and r["is_trending"]) == ["QQQ", "XLI", "XLU"]
    assert trending[(5, "XLU")]["rank_by_outperformance"] == 1 and trending[(5, "XLU")]["valid_from"] == "2025-08-01"
    # Stage 4: XLU's top five holdings and their history with sector and market cap.
    collected, holdings = storage.etf.holdings_on("XLU", D(2025, 7, 31))
    assert [h["stock_ticker"] for h in holdings] == ["NEE", "CEG", "SO", "DUK", "AEP"]
    ceg = storage.etf.stock_bars("CEG", D(2025, 7, 31), D(2025, 7, 31))[0]
    assert ceg["sector"] == "Utilities" and ceg["market_cap"] == pytest.approx(362290071 * 347.421143)
    # Stage 5: the only 5-session trending ETF is XLU, whose best holding was CEG (+8.14%).
    five = storage.etf.portfolio(D(2025, 7, 31), 5)
    assert [(p["ticker"], p["weight"]) for p in five["positions"]] == [("CEG", 1.0)]
    assert five["positions"][0]["return_nd"] == pytest.approx(347.421143 / 321.282684 - 1)
    assert five["valid_from"] == "2025-08-01" and five["valid_until"] == "2025-08-07"
    ten = {p["ticker"]: p["weight"] for p in storage.etf.portfolio(D(2025, 7, 31), 10)["positions"]}
    ceg10, meta10 = (347.421143 / 307.709015 - 1) / (362290071 * 347.421143), \
        (772.918335 / 700.93689 - 1) / (2529555613 * 772.918335)
    assert ten == pytest.approx({"CEG": ceg10 / (ceg10 + meta10), "META": meta10 / (ceg10 + meta10)})
    assert five["performance"]["status"] == "pending"


def test_nothing_pending_means_no_source_call(storage, settings, clock):
    run_etf(storage, settings, new_york(D(2025, 7, 31)), clock)
    market, source = counting_market(settings)
    assert run_etf(storage, settings, new_york(D(2025, 7, 31)), clock, market) == 0
    assert source.calls == [] and storage.jobs.runs("etf_pipeline")[0]["pending"] == 0


def test_catch_up_over_the_fourth_of_july_collects_only_sessions(storage, settings, clock):
    run_etf(storage, settings, new_york(D(2025, 6, 30)), clock)
    market, source = counting_market(settings)
    assert run_etf(storage, settings, new_york(D(2025, 7, 8)), clock, market) == 0
    assert done(storage)[-5:] == [D(2025, 7, 1), D(2025, 7, 2), D(2025, 7, 3), D(2025, 7, 7), D(2025, 7, 8)]
    etf_bars = [t for k, t in source.calls if k == "bars" and t in {"SPY", "XLU", "XLF", "QQQ"}]
    # June 30 was the first run; the catch-up is one batch (July): one request per ETF for all of it.
    assert sorted(etf_bars) == ["QQQ", "SPY", "XLF", "XLU"]
    # The 3 July half day is a session; 4 July is not.
    assert storage.etf.etf_bars("SPY", D(2025, 7, 4), D(2025, 7, 4)) == []


def test_thanksgiving_and_its_half_day_with_yahoo_s_publication_delay(make_settings):
    calendar = us_calendar(make_settings())
    chain = yahoo_like(calendar)
    # Friday 2024-11-29 closed at 13:00 in New York: due from 14:00 with the 60-minute delay.
    assert last_due_session(calendar, chain, new_york(D(2024, 11, 29), 13, 59)) == D(2024, 11, 27)
    assert last_due_session(calendar, chain, new_york(D(2024, 11, 29), 14, 0)) == D(2024, 11, 29)
    assert last_due_session(calendar, chain, new_york(D(2024, 11, 28), 20)) == D(2024, 11, 27)


@pytest.mark.parametrize(("first", "last"), [(D(2025, 2, 24), D(2025, 3, 21)), (D(2024, 10, 21), D(2024, 11, 15))])
def test_the_07_30_kst_cron_run_finds_the_session_just_closed_on_both_sides_of_a_dst_change(make_settings, first, last):
    """US daylight saving starts 2025-03-09 and ends 2024-11-03; Korea has none: the close moves from 06:00 to
    05:00 KST and back. 07:30 KST is after the close plus Yahoo's hour in both, 06:30 KST only in summer."""
    calendar = us_calendar(make_settings())
    chain = yahoo_like(calendar)
    early_ok = []
    for session in calendar.sessions_between(first, last):
        morning = dt.datetime.combine(session + dt.timedelta(days=1), dt.time(7, 30), tzinfo=KST)
        assert last_due_session(calendar, chain, morning) == session, session
        earlier = morning.replace(hour=6)
        early_ok.append(last_due_session(calendar, chain, earlier) == session)
    assert any(early_ok) and not all(early_ok)


def test_a_catch_up_run_by_cron_across_the_dst_change_completes_each_session_once(storage, settings, clock):
    run_etf(storage, settings, new_york(D(2025, 3, 5)), clock)
    for day in (D(2025, 3, 7), D(2025, 3, 11), D(2025, 3, 12)):  # Saturday 07:30 KST, then Tue/Wed mornings
        cron = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(7, 30), tzinfo=KST)
        assert run_etf(storage, settings, cron, clock) == 0
    assert done(storage)[-6:] == [D(2025, 3, 5), D(2025, 3, 6), D(2025, 3, 7), D(2025, 3, 10), D(2025, 3, 11),
                                  D(2025, 3, 12)]
    assert len(done(storage)) == len(set(done(storage)))


def test_a_closure_the_calendar_does_not_know_holds_nothing_back_and_names_its_setting(
    storage, make_settings, clock, caplog
):
    # exchange-calendars learned 2025-01-09 (national day of mourning) late: simulate the lagging library.
    settings = make_settings(us_first_run_sessions=2)
    lagging = sorted({*us_calendar(settings).sessions_between(D(2010, 1, 4), D(2027, 1, 1)), D(2025, 1, 9)})

    def market(config, network=False):
        calendar = TradingCalendar(us_settings(config).extra_closed_days, base_sessions=lagging, exchange="XNYS",
                                   settings_prefix="US")
        source = CountingSource(UsReplaySource(US_SAMPLE))
        source.network = network
        return us_test_market(config, sources=[source], calendar=calendar)

    run_etf(storage, settings, new_york(D(2025, 1, 8)), clock, market(settings))
    # From Yahoo (a network source), every ETF empty on a day while the next one is served: a closure.
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        assert run_etf(storage, settings, new_york(D(2025, 1, 10)), clock, market(settings, network=True)) == 0
    assert "CLOSED? every source answers the whole XNYS market empty for 2025-01-09" in caplog.text
    assert "US_EXTRA_CLOSED_DAYS=2025-01-09" in caplog.text
    assert done(storage)[-2:] == [D(2025, 1, 8), D(2025, 1, 10)]  # the next session was not held back
    assert storage.etf.portfolio(D(2025, 1, 10), 20) is not None
    # From local files, the same day asks for a fix (a file does not change by itself): exit 2.
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        assert run_etf(storage, settings, new_york(D(2025, 1, 10)), clock, market(settings)) == 2
    assert "if XNYS was closed, add `US_EXTRA_CLOSED_DAYS=2025-01-09` to .env" in caplog.text
    fixed = make_settings(us_first_run_sessions=2, us_extra_closed_days="2025-01-09")
    assert run_etf(storage, fixed, new_york(D(2025, 1, 10)), clock, market(fixed)) == 0
    assert "2025-01-09" not in {d["date_kst"] for d in storage.jobs.day_records("etf_pipeline")}


def _corrupt(tmp_path, ticker: str, day: str, column: str, value: str):
    root = tmp_path / "us"
    shutil.copytree(US_SAMPLE, root)
    path = root / "us_etf" / f"{ticker}.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    for i, line in enumerate(lines):
        if line.startswith(day):
            cells = line.split(",")
            cells[header.index(column)] = value
            lines[i] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    return root


def test_a_broken_row_before_the_batch_is_a_rejected_record_and_the_days_complete(storage, make_settings, clock,
                                                                                   tmp_path):
    root = _corrupt(tmp_path, "XLF", "2025-07-25", "high", "1.0")  # high below low
    settings = make_settings(us_first_run_sessions=3, us_replay_dir=root)
    assert run_etf(storage, settings, new_york(D(2025, 7, 31)), clock) == 0
    [rejected] = storage.bad_data.rejected_records()
    assert rejected["ticker"] == "XLF" and rejected["date"] == "2025-07-25" and rejected["kind"] == "bars"
    assert rejected["reason"].startswith("high 1.0 below low") and rejected["raw"]["high"] == "1.0"
    assert rejected["source"] == "replay" and rejected["job"] == "etf_pipeline" and rejected["first_seen_utc"]
    assert storage.etf.etf_bars("XLF", D(2025, 7, 25), D(2025, 7, 25)) == []  # never stored as data
    assert done(storage)[-1] == D(2025, 7, 31)
    # Seen again by a later run: still one record.
    assert run_etf(storage, settings, new_york(D(2025, 8, 1)), clock) == 0
    assert len(storage.bad_data.rejected_records()) == 1


def test_a_broken_row_on_the_day_itself_leaves_the_day_pending_and_says_where_to_look(
    storage, make_settings, clock, tmp_path, caplog
):
    root = _corrupt(tmp_path, "XLF", "2025-07-31", "close", "abc")
    settings = make_settings(us_first_run_sessions=2, us_replay_dir=root)
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        # Only a local file serves it, and a file does not change by itself: a human must fix it (exit 2).
        assert run_etf(storage, settings, new_york(D(2025, 7, 31)), clock) == 2
    assert ("no usable bar for 2025-07-31 (rejected: close is not a number: 'abc' at us_etf/XLF.csv line 209; "
            "see system_info.bad_data)") in caplog.text and "correct the file" in caplog.text
    assert done(storage) == [D(2025, 7, 30)]  # the session before it is not held back
    records = {d["date_kst"]: d for d in storage.jobs.day_records("etf_pipeline")}
    assert records["2025-07-31"]["status"] == "partial" and list(records["2025-07-31"]["missing"]) == ["XLF"]
    assert storage.bad_data.rejected_records()[0]["reason"] == "close is not a number: 'abc'"
    assert storage.etf.portfolio(D(2025, 7, 31), 20) is None  # no stage 3-5 on a half-delivered session
    # The file is fixed: the next run asks for XLF alone and completes the session.
    shutil.copy(US_SAMPLE / "us_etf" / "XLF.csv", root / "us_etf" / "XLF.csv")
    market, source = counting_market(settings, root=root)
    assert run_etf(storage, settings, new_york(D(2025, 7, 31)), clock, market) == 0
    assert done(storage) == [D(2025, 7, 30), D(2025, 7, 31)]
    assert [t for k, t in source.calls if k == "bars" and t in storage.etf.etf_meta()] == ["XLF"]
    assert storage.etf.portfolio(D(2025, 7, 31), 20) is not None


def test_a_refused_bar_is_bad_data_named_by_file_and_line_and_never_settles_as_no_data(
    storage, make_settings, clock, tmp_path, caplog
):
    # Served as by a network source (which the grace period would settle for an empty answer): a negative close
    # is bad data, asked again every run, however long it lasts.
    root = _corrupt(tmp_path, "XLF", "2025-07-29", "close", "-52.89")
    settings = make_settings(us_first_run_sessions=3, us_replay_dir=root)
    market, _ = counting_market(settings, root=root, network=True)
    assert run_etf(storage, settings, new_york(D(2025, 7, 31)), clock, market) == 1
    late = new_york(D(2025, 7, 29) + dt.timedelta(days=settings.missing_day_grace_days + 5))
    with caplog.at_level(logging.ERROR, logger="pipeline"):
        assert run_etf(storage, settings, late, clock, counting_market(settings, root=root, network=True)[0]) == 1
    record = {d["date_kst"]: d for d in storage.jobs.day_records("etf_pipeline")}["2025-07-29"]
    assert record["status"] == "partial" and "XLF: replay bad_data" in record["error"]
    assert "close is not positive: -52.89 at us_etf/XLF.csv line 207" in record["missing"]["XLF"]
    assert "NO DATA" not in caplog.text and "2025-07-29" in caplog.text
    [rejected] = storage.bad_data.rejected_records()
    assert rejected["where"] == "us_etf/XLF.csv line 207" and rejected["date"] == "2025-07-29"


def test_a_row_whose_date_cannot_be_read_is_a_rejected_record_naming_file_and_line(storage, make_settings, clock,
                                                                                   tmp_path):
    root = _corrupt(tmp_path, "XLF", "2025-07-25", "date", "25/07/2025")
    settings = make_settings(us_first_run_sessions=3, us_replay_dir=root)
    assert run_etf(storage, settings, new_york(D(2025, 7, 31)), clock) == 0
    [rejected] = storage.bad_data.rejected_records()
    assert rejected["reason"] == "date is not YYYY-MM-DD: '25/07/2025'" and rejected["date"] is None
    assert rejected["where"] == "us_etf/XLF.csv line 205" and rejected["ticker"] == "XLF"
    assert done(storage) == [D(2025, 7, 29), D(2025, 7, 30), D(2025, 7, 31)]


def test_sessions_before_a_later_launched_etfs_first_row_are_outside_its_range_not_empty(
    storage, make_settings, clock, tmp_path
):
    root = tmp_path / "us"
    shutil.copytree(US_SAMPLE, root)
    path = root / "us_etf" / "XLRE.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], *[line for line in lines[1:] if line[:10] >= "2025-07-30"]]) + "\n")
    settings = make_settings(us_first_run_sessions=3, us_replay_dir=root)
    # A batch wholly before its first row, then one that starts before it.
    assert run_etf(storage, settings, new_york(D(2025, 7, 25)), clock) == 0
    assert run_etf(storage, settings, new_york(D(2025, 7, 31)), clock) == 0
    records = {d["date_kst"]: d for d in storage.jobs.day_records("etf_pipeline")}
    assert [records[d]["status"] for d in ("2025-07-23", "2025-07-28", "2025-07-29", "2025-07-30", "2025-07-31")] \
        == ["completed"] * 5
    assert records["2025-07-29"]["out_of_range"] == ["XLRE"] and "out_of_range" not in records["2025-07-30"]
    assert storage.etf.etf_bars("XLRE", D(2025, 7, 1), D(2025, 7, 31))[0]["date"].date() == D(2025, 7, 30)
    xlre = storage.etf_db["analytics_trending_etfs"].find_one({"_id": "2025-07-31:5:XLRE"})
    assert xlre["return_nd"] is None and not xlre["is_trending"]


def test_a_transient_failure_leaves_the_day_pending_and_the_next_run_heals_it(storage, settings, clock):
    def outage():
        raise TransientSourceError("replay: HTTP 503")

    # a network source is retried (a local file is not: it would answer the same)
    market, source = counting_market(settings, failures={("bars", "XLV"): outage}, network=True)
    assert run_etf(storage, settings, new_york(D(2025, 7, 31)), clock, market) == 1
    assert done(storage) == [] and source.calls.count(("bars", "XLV")) == us_settings(settings).max_attempts
    assert run_etf(storage, settings, new_york(D(2025, 7, 31)), clock) == 0
    assert done(storage) == [D(2025, 7, 29), D(2025, 7, 30), D(2025, 7, 31)]


def test_a_second_run_exits_while_the_first_holds_the_lock(storage, settings, clock, caplog):
    ttl = dt.timedelta(minutes=settings.lock_timeout_minutes)
    assert storage.jobs.acquire_lock("us_etf", "other-run", clock(), ttl)[0]
    market, source = counting_market(settings)
    with caplog.at_level(logging.INFO, logger="pipeline"):
        assert run_etf(storage, settings, new_york(D(2025, 7, 31)), clock, market) == 0
    assert "another run (other-run) holds the us_etf lock" in caplog.text and source.calls == []


def test_yfinance_through_yahoo_s_answer_shapes_gives_the_same_portfolios_as_the_replay(make_settings, clock,
                                                                                        tmp_path):
    import mongomock_ng

    from lib.storage import Storage

    settings = make_settings(us_first_run_sessions=2)
    replayed = Storage(mongomock_ng.MongoClient(), prefix="r_")
    run_etf(replayed, settings, new_york(D(2025, 7, 31)), clock)
    stub = YahooStub()
    calendar = us_calendar(settings)
    yahoo = YFinanceSource(10, dt.timedelta(minutes=60), calendar.close_at, http="requests",
                           cache_dir=tmp_path / "yf", transport=stub)
    fetched = Storage(mongomock_ng.MongoClient(), prefix="y_")
    assert run_etf(fetched, settings, new_york(D(2025, 7, 31)), clock, us_test_market(settings, [yahoo])) == 0
    for day in (D(2025, 7, 30), D(2025, 7, 31)):
        for period in (5, 10, 20):
            a, b = replayed.etf.portfolio(day, period)["positions"], fetched.etf.portfolio(day, period)["positions"]
            assert [p["ticker"] for p in a] == [p["ticker"] for p in b]
            assert [p["weight"] for p in a] == pytest.approx([p["weight"] for p in b], rel=1e-9)
    assert stub.calls[("SPY", "chart")] == 1 and stub.calls[("XLU", "holdings")] == 1


def test_yahoo_s_undated_holdings_are_known_from_the_day_they_were_collected(make_settings, tmp_path):
    # Yahoo's top holdings are today's whatever session is asked: collected on the evening of 2025-07-31, they
    # were known for that session's portfolios, not for 2025-07-30's (a first run's catch-up is look-ahead).
    import mongomock_ng

    from lib.storage import Storage
    from tests.conftest import FakeClock

    settings = make_settings(us_first_run_sessions=2)
    evening = FakeClock(dt.datetime(2025, 7, 31, 22, 30, tzinfo=dt.UTC))  # 18:30 in New York
    yahoo = YFinanceSource(10, dt.timedelta(minutes=60), us_calendar(settings).close_at, http="requests",
                           cache_dir=tmp_path / "yf", transport=YahooStub())
    storage = Storage(mongomock_ng.MongoClient(), prefix="y_")
    assert run_etf(storage, settings, new_york(D(2025, 7, 31)), evening, us_test_market(settings, [yahoo])) == 0
    rows = [r for snapshots in storage.etf.holdings_history(["XLU", "XLY"]).values() for s in snapshots.values()
            for r in s]
    assert rows and all(r["source_as_of"] is None and r["holdings_as_of"] == "2025-07-31" for r in rows)
    for period in (5, 10, 20):
        assert storage.etf.portfolio(D(2025, 7, 31), period)["holdings_known"] is True
        before = storage.etf.portfolio(D(2025, 7, 30), period)
        assert before["holdings_known"] is (not before["holdings_snapshots"])
    assert any(storage.etf.portfolio(D(2025, 7, 30), period)["holdings_snapshots"] for period in (5, 10, 20))


# --- crash safety and determinism ---------------------------------------------------------------------


def _scenario(storage, settings, clock, crash_at: int | None) -> int:
    writes = kill_at_write(storage, crash_at)
    for as_of in (new_york(D(2025, 7, 30)), new_york(D(2025, 8, 1))):
        restarted(partial(run_etf, storage, settings, as_of, clock), clock, settings)
        clock.advance(minutes=1)
    return writes["n"]


def test_a_run_killed_at_any_write_then_rerun_gives_the_same_database(make_settings, clock):
    import mongomock_ng

    from lib.storage import Storage

    # A small plan keeps the number of write points (and so of replays) small: SPY, two sector ETFs that trend
    # in late July 2025, their top two holdings; a first run of two sessions, then a catch-up across a month end.
    settings = make_settings(
        us_first_run_sessions=2, us_benchmark_etfs="SPY", us_sector_etfs="XLU:Utilities,XLC:Communication",
        us_top_holdings=2,
    )
    reference = Storage(mongomock_ng.MongoClient(), prefix="t_")
    total = _scenario(reference, settings, clock, crash_at=None)
    expected = etf_snapshot(reference)
    assert [d["date_kst"] for d in expected["days"]] == ["2025-07-29", "2025-07-30", "2025-07-31", "2025-08-01"]
    assert total > 20
    for crash_at in range(1, total + 1):
        crashed = Storage(mongomock_ng.MongoClient(), prefix="t_")
        _scenario(crashed, settings, clock, crash_at=crash_at)
        assert etf_snapshot(crashed) == expected, f"differs after a kill at write {crash_at}"
        assert all(run["status"] != "running" for run in crashed.jobs.runs())


def test_a_batch_cut_partway_then_rerun_gives_the_same_database(make_settings, clock):
    import mongomock_ng

    from lib.storage import Storage

    # The kill test's plan and runs; each multi-document write (the first and the last of every collection) is
    # cut after its first document, and after all but its first, then the run is started again after the lock
    # timeout. A snapshot of holdings left with some of its rows was taken as collected, for good.
    settings = make_settings(
        us_first_run_sessions=2, us_benchmark_etfs="SPY", us_sector_etfs="XLU:Utilities,XLC:Communication",
        us_top_holdings=2,
    )
    reference = Storage(mongomock_ng.MongoClient(), prefix="t_")
    with BatchCut().installed() as counted:
        _scenario(reference, settings, clock, crash_at=None)
    expected = etf_snapshot(reference)
    cuts = cut_points(counted.calls)
    assert {point.split(".", 1)[1] for point, _ in counted.calls} >= {
        "collected_daily_etf_ohlc", "collected_etf_holdings", "collected_daily_stock_history",
        "analytics_trending_etfs", "analytics_portfolio_allocation",
    }
    for cut in cuts:
        crashed = Storage(mongomock_ng.MongoClient(), prefix="t_")
        with BatchCut(cut).installed() as cutter:
            _scenario(crashed, settings, clock, crash_at=None)
        assert cutter.fired, f"{cut} never happened"
        assert etf_snapshot(crashed) == expected, f"differs after {cut} ({counted.calls[cut.call - 1]})"
        assert all(run["status"] != "running" for run in crashed.jobs.runs())


def test_a_holdings_snapshot_cut_partway_is_not_served_and_is_collected_again(storage, make_settings, clock):
    import mongomock_ng

    from lib.storage import Storage

    settings = make_settings(us_first_run_sessions=2, us_top_holdings=5)
    as_of = new_york(D(2025, 7, 30))
    with BatchCut().installed() as counted:
        run_etf(storage, settings, as_of, clock)
    first = next(i for i, (point, _) in enumerate(counted.calls, start=1) if point.endswith("collected_etf_holdings"))
    cut_store = Storage(mongomock_ng.MongoClient(), prefix="c_")
    with BatchCut(Cut(first, "rest")).installed(), pytest.raises(SimulatedKill):
        run_etf(cut_store, settings, as_of, clock)
    left = list(cut_store.etf_db["collected_etf_holdings"].find({}))
    etf, day = left[0]["etf_ticker"], left[0]["collected_date"]
    assert len(left) == 4 and {(r["etf_ticker"], r["collected_date"]) for r in left} == {(etf, day)}
    # Neither the pipeline nor GET /etf/{ticker}/holdings takes the four rows for the snapshot.
    assert cut_store.etf.holdings_on(etf, D.fromisoformat(day)) == (None, [])
    assert etf not in cut_store.etf.holdings_history([etf])
    clock.advance(minutes=settings.lock_timeout_minutes + 1)
    assert run_etf(cut_store, settings, as_of, clock) == 0
    assert cut_store.etf.holdings_on(etf, D.fromisoformat(day)) == storage.etf.holdings_on(etf, D.fromisoformat(day))
    assert len(cut_store.etf.holdings_on(etf, D.fromisoformat(day))[1]) == 5


def test_a_replay_run_twice_gives_identical_results(make_settings, clock):
    import mongomock_ng

    from lib.storage import Storage

    settings = make_settings(us_first_run_sessions=4)
    snapshots = []
    for prefix in ("a_", "b_"):
        storage = Storage(mongomock_ng.MongoClient(), prefix=prefix)
        assert run_etf(storage, settings, new_york(D(2025, 8, 4)), clock) == 0
        snapshots.append(etf_snapshot(storage))
    assert snapshots[0] == snapshots[1]
    assert len(snapshots[0]["analytics_portfolio_allocation"]) == 4 * 3


def test_yahoo_is_asked_at_most_once_every_five_seconds_by_default_as_the_seed_says():
    # The seed's stages 1 and 2: "Rate Limit: 5초 간격" (5 seconds between requests).
    from lib.config import load_settings
    from lib.markets.us.market import build_us_chain
    from lib.spine.chain import Request

    settings = load_settings(env_file=None)
    assert us_settings(settings).sources == ["yfinance"]
    now = {"t": 100.0}
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now["t"] += seconds

    source = CountingSource(UsReplaySource(US_SAMPLE))
    source.network = True  # paced like Yahoo
    chain = build_us_chain(settings, [source], sleep=sleep, monotonic=lambda: now["t"])
    day = (D(2025, 7, 31),)
    for ticker in ("SPY", "QQQ", "XLF"):
        chain.fetch(Request(ticker, day), new_york(D(2025, 7, 31)))
        now["t"] += 0.5  # the answer took half a second
    assert pauses == [pytest.approx(4.5), pytest.approx(4.5)]


def test_the_run_record_counts_every_request_stage_4_made_too(storage, settings, clock):
    # The count was taken before the collector's store, so the last batch's holdings, profiles and stock bars
    # were missing from it (the demo's September catch-up showed 15 source calls: the ETFs alone).
    run_etf(storage, settings, new_york(D(2025, 7, 31)), clock)
    market, source = counting_market(settings)
    assert run_etf(storage, settings, new_york(D(2025, 8, 8)), clock, market) == 0
    assert source.count("bars") > ETFS  # the held stocks' bars as well as the ETFs'
    assert storage.jobs.runs("etf_pipeline")[0]["source_calls"] == len(source.calls)


def test_a_session_without_enough_benchmark_history_says_so_instead_of_no_etf_beat_spy(storage, settings, clock):
    # The bundled files start on 2024-10-01: on 2024-10-03 no ETF has a 5-session return yet. The empty portfolio
    # said "no ETF beat SPY with a positive return", a claim about returns nobody could compute.
    assert run_etf(storage, settings, new_york(D(2024, 10, 3)), clock) == 0
    for period in (5, 10, 20):
        note = storage.etf.portfolio(D(2024, 10, 3), period)["note"]
        assert "no ETF beat" not in note
        assert f"SPY has no {period}-session return on this session" in note


def test_a_redo_that_changes_a_finished_portfolio_evaluates_its_performance_again(storage, make_settings, clock,
                                                                                  tmp_path):
    # The stored performance was kept whenever a portfolio was saved again, so after a corrected file and
    # --redo the API served the new positions with the old portfolio's realised return.
    shutil.copytree(US_SAMPLE, tmp_path / "us")
    settings = make_settings(us_first_run_sessions=2, us_replay_dir=tmp_path / "us")
    assert run_etf(storage, settings, new_york(D(2025, 9, 2)), clock) == 0
    assert run_etf(storage, settings, new_york(D(2025, 9, 12)), clock) == 0
    before = storage.etf.portfolio(D(2025, 9, 2), 5)
    assert before["performance"]["status"] == "final"
    pick = before["positions"][0]["ticker"]
    path = tmp_path / "us" / "us_stocks" / f"{pick}.csv"
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):  # the pick's start close (25 August) three times higher: now it fell
        if line.startswith("2025-08-25,"):
            cells = line.split(",")
            cells[1:5] = [str(float(x) * 3) for x in cells[1:5]]
            lines[i] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    market = us_test_market(settings)
    redo = run_job("etf_pipeline", settings, storage, new_york(D(2025, 9, 12)), clock,
                   lambda ctx: etf_pipeline(ctx, market, [D(2025, 9, 2)]), lock_name=market.lock)
    assert redo == 0
    after = storage.etf.portfolio(D(2025, 9, 2), 5)
    assert pick not in [p["ticker"] for p in after["positions"]]
    weights = {p["ticker"]: p["weight"] for p in after["positions"]}
    closes = storage.etf.stock_closes(weights, D(2025, 9, 2), D(2025, 9, 9))
    expected = sum(w * (closes[t][D(2025, 9, 9)] / closes[t][D(2025, 9, 2)] - 1) for t, w in weights.items())
    assert after["performance"]["status"] == "final"
    assert after["performance"]["portfolio_return"] == pytest.approx(expected, rel=1e-12)
    assert after["performance"]["portfolio_return"] != before["performance"]["portfolio_return"]
