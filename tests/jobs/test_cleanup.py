"""Retention: each kind bounded by its setting, never what a screen, a track record or the catch-up needs;
idempotent, under its own lock, with a dry run that changes nothing."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

import pytest

import cleanup as cleanup_script
from lib.analysis.screener import Registry, discover, screen
from lib.config import load_settings
from lib.errors import ConfigError
from lib.ops.cleanup import apply, cleanup, plan
from lib.spine.calendar import TradingCalendar
from lib.spine.runner import run_job
from lib.storage import Storage, get_client
from lib.storage.dates import to_utc_midnight
from tests.helpers import evening, run_analysis, run_collection


def xkrx() -> TradingCalendar:
    """The KRX calendar with no overrides."""
    return TradingCalendar(exchange="XKRX", settings_prefix="KRX")

D = dt.date
LAST = D(2025, 6, 16)

DAYS = "daily_update"  # the day records the prices count back from (krx.bars)


@pytest.fixture(scope="module")
def registry() -> Registry:
    """The strategies of up to 60 sessions' lookback, so a short history shows what the cleanup keeps."""
    short = {s.name: s for s in discover() if s.lookback <= 60}
    assert len(short) >= 5
    return Registry(MappingProxyType(short))


def run_cleanup(storage, settings, clock, registry) -> int:
    code = run_job("cleanup", settings, storage, clock(), clock,
                   lambda ctx: cleanup(ctx, xkrx(), registry, job=DAYS), lock_name="cleanup")
    clock.advance(minutes=1)
    return code


def analysed_store(storage, make_settings, clock, **overrides):
    """The last 120 sessions of the test panel collected and analysed."""
    settings = make_settings(setup_history_sessions=120, **overrides)
    assert run_collection("manual_setup", storage, settings, evening(LAST), clock) == 0
    assert run_analysis(storage, settings, evening(LAST, 22), clock) == 0
    return settings


def picks_by_day(storage, registry, days):
    calendar = xkrx()
    return {(s.name, d): [(p.ticker, p.score) for p in screen(storage, calendar, s, s.params(), d)[1]]
            for s in registry for d in days}


def test_screening_rows_go_but_every_screen_inside_the_window_and_every_track_record_stay(
    storage, make_settings, clock, registry
):
    settings = analysed_store(storage, make_settings, clock, retention_screening_days=30)
    calendar = xkrx()
    window = calendar.sessions_between(LAST - dt.timedelta(days=30), LAST)
    days = [window[0], window[len(window) // 2], LAST]
    before_picks = picks_by_day(storage, registry, days)
    analysed = {t: storage.analyzed_db[t].count_documents({}) for t in storage.analysis.analysed_tickers()}
    days_before = storage.jobs.day_records("daily_update")
    rows_before = storage.analysis.screening.count_documents({})

    [cut] = [c for c in plan(storage, settings, calendar, registry, clock(), job=DAYS) if c.kind == "screening"]
    lookback = max(s.lookback for s in registry)
    assert cut.before == calendar.last_sessions(window[0], lookback)[0]
    would = apply(cut, dry_run=True)
    assert would > 0 and storage.analysis.screening.count_documents({}) == rows_before  # the dry run deleted nothing

    assert run_cleanup(storage, settings, clock, registry) == 0
    run = storage.jobs.runs("cleanup")[0]
    assert run["status"] == "completed" and run["deleted_screening"] == would
    assert storage.analysis.first_screening_day() == cut.before
    assert picks_by_day(storage, registry, days) == before_picks
    assert {t: storage.analyzed_db[t].count_documents({}) for t in storage.analysis.analysed_tickers()} == analysed
    assert storage.jobs.day_records("daily_update") == days_before

    # idempotent: run again, nothing more goes; and the next analysis does not bring the rows back
    assert run_cleanup(storage, settings, clock, registry) == 0
    assert storage.jobs.runs("cleanup")[0]["deleted_screening"] == 0
    storage.tickers.update_many({}, {"$set": {"last_analyzed_date": None}})
    storage.system["strategy_stats"].delete_many({})
    assert run_analysis(storage, settings, evening(LAST, 23), clock) == 0
    assert storage.analysis.first_screening_day() == cut.before
    assert all(storage.analysis.strategy_stats(s.name)["picks"] >= 0 for s in registry)


def test_run_records_keep_each_jobs_latest_and_running_ones(storage, make_settings, clock, registry):
    settings = make_settings(setup_history_sessions=3, retention_runs_days=30)
    run_collection("manual_setup", storage, settings, evening(D(2024, 8, 30)), clock)
    for _ in range(3):
        run_collection("daily_update", storage, settings, evening(D(2024, 9, 2)), clock)
    storage.jobs.start_run("hourly_analysis_dead", {"job_name": "hourly_analysis", "start_time_utc": clock.now})
    clock.advance(days=40)
    run_collection("daily_update", storage, settings, evening(D(2024, 9, 3)), clock)

    assert run_cleanup(storage, settings, clock, registry) == 0
    left = {(r["job_name"], r["status"]) for r in storage.jobs.runs(limit=100)}
    assert len(storage.jobs.runs(limit=100)) == 4
    assert left == {("manual_setup", "completed"), ("daily_update", "completed"), ("hourly_analysis", "running"),
                    ("cleanup", "completed")}
    assert storage.jobs.runs("daily_update")[0]["up_to"] == "2024-09-03"


def test_prices_are_kept_forever_unless_bounded_and_the_bound_keeps_a_years_indicators(
    storage, make_settings, clock, registry
):
    settings = make_settings(setup_history_sessions=369)
    run_collection("manual_setup", storage, settings, evening(LAST), clock)
    bars = storage.stock_db["005930"].count_documents({})
    assert run_cleanup(storage, settings, clock, registry) == 0
    assert storage.stock_db["005930"].count_documents({}) == bars
    assert storage.jobs.runs("cleanup")[0]["deleted_prices"] == 0

    with pytest.raises(ConfigError, match="RETENTION_PRICES_DAYS: keep at least 400 days"):
        make_settings(retention_prices_days=100)
    bounded = make_settings(setup_history_sessions=369, retention_prices_days=400)
    days = len(storage.jobs.day_records("daily_update"))
    assert run_cleanup(storage, bounded, clock, registry) == 0
    first = storage.bars.read_bars("005930")[0]["date"]
    assert first >= to_utc_midnight(LAST - dt.timedelta(days=400)) > to_utc_midnight(D(2023, 12, 5))
    # the catch-up's memory stays: nothing is fetched again
    assert len(storage.jobs.day_records("daily_update")) == days
    assert run_collection("daily_update", storage, bounded, evening(LAST), clock) == 0
    assert storage.jobs.runs("daily_update")[0]["pending"] == 0


def test_old_alert_records_go(storage, make_settings, clock, registry):
    settings = make_settings(retention_alerts_days=10)
    storage.alerts.open_alert("job_failed:x:1", {"kind": "job_failed"}, ["telegram"], clock())
    clock.advance(days=11)
    storage.alerts.open_alert("job_failed:x:2", {"kind": "job_failed"}, ["telegram"], clock())
    assert run_cleanup(storage, settings, clock, registry) == 0
    assert [a["_id"] for a in storage.alerts.recent_alerts()] == ["job_failed:x:2"]


def test_a_second_cleanup_waits_for_the_first_and_the_dry_run_changes_nothing(make_settings, capsys):
    settings = make_settings(setup_history_sessions=3, retention_runs_days=1)
    storage = Storage(get_client("mongomock://"))
    now = dt.datetime.now(dt.UTC)
    storage.jobs.start_run("daily_update_old", {"job_name": "daily_update", "start_time_utc": now - dt.timedelta(
        days=5
    )})
    storage.jobs.finish_run("daily_update_old", {"status": "failed"})
    storage.jobs.start_run("daily_update_new", {"job_name": "daily_update", "start_time_utc": now - dt.timedelta(
        hours=1
    )})
    storage.jobs.finish_run("daily_update_new", {"status": "completed"})

    assert cleanup_script.main(["--dry-run"], settings=settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("Cleanup dry run: nothing is deleted")
    assert [ln.split()[:4] for ln in out.splitlines() if ln.split()[:1] == ["runs"]] == [
        ["runs", "RETENTION_RUNS_DAYS=1", "1", "run"]]
    kinds = [ln.split()[0] for ln in out.splitlines()[3:]]
    assert {"picks", "ai"} <= set(kinds), out
    assert [ln.split()[1:3] for ln in out.splitlines() if ln.split()[:1] == ["ai"]] == [["RETENTION_AI_DAYS=365", "0"]]
    assert len(storage.jobs.runs()) == 2

    storage.jobs.acquire_lock("cleanup", "someone_else", now, dt.timedelta(minutes=30))
    assert cleanup_script.main([], settings=settings) == 0
    assert "holds the cleanup lock" in capsys.readouterr().err and len(storage.jobs.runs()) == 2
    storage.jobs.release_lock("cleanup", "someone_else")
    assert cleanup_script.main([], settings=settings) == 0
    assert [r["_id"] for r in storage.jobs.runs("daily_update")] == ["daily_update_new"]


def test_cleanup_runs_on_an_install_without_the_screened_markets_credentials():
    """A US-only install has no KRX key: cleanup needs the screened dataset's calendar, not its sources."""
    settings = load_settings(env_file=None, mongodb_uri="mongomock://", markets=["us"])
    assert cleanup_script.main([], settings=settings) == 0
    assert Storage(get_client("mongomock://")).jobs.latest_run("cleanup")["status"] == "completed"


def test_quarantined_bars_and_measure_values_follow_the_prices(storage, make_settings, clock, registry):
    old, recent = D(2024, 1, 2), D(2025, 6, 2)
    # the last collected day, that the cutoff counts back from
    storage.jobs.mark_day(LAST, "completed", {"rows": 1}, job=DAYS)
    storage.bars.upsert_bars({"005930": [{"date": to_utc_midnight(d), "close": 1} for d in (old, recent)]})
    for day in (old, recent):
        storage.bad_data.quarantine_bars([{"ticker": "005930", "day": day, "market": "KOSPI", "reason": "test",
                                  "bar": {"date": to_utc_midnight(day), "close": 1}}])
    storage.cross_section.save_cross_section({
        "005930": {old.isoformat(): {"rs_rating": 50.0}, recent.isoformat(): {"rs_rating": 60.0}},
        "000660": {old.isoformat(): {"rs_rating": 40.0}},
    })
    storage.cross_section.mark_computed([old, recent], ["rs_rating"], {old: 2, recent: 1}, {})
    bounded = make_settings(retention_prices_days=400)
    cuts = {c.kind: c for c in plan(storage, bounded, xkrx(), registry, clock(), job=DAYS)}
    assert cuts["quarantine"].before == cuts["cross_section"].before == cuts["prices"].before
    assert apply(cuts["cross_section"], dry_run=True) == 2 and apply(cuts["quarantine"], dry_run=True) == 1
    assert run_cleanup(storage, bounded, clock, registry) == 0
    assert [q["date_kst"] for q in storage.bad_data.quarantined()] == [recent.isoformat()]
    assert [b["date"].date() for b in storage.bars.read_bars("005930")] == [recent]
    assert storage.cross_section.cross_section_of("005930") == {recent.isoformat(): {"rs_rating": 60.0}}
    assert storage.cross_section.cross_section_of("000660") == {}
    assert storage.cross_section.computed_days()[old] == {"rs_rating"}  # still computed: never computed again
    run = storage.jobs.runs("cleanup")[0]
    assert (run["deleted_quarantine"], run["deleted_cross_section"]) == (1, 2)
    assert run_cleanup(storage, bounded, clock, registry) == 0
    assert storage.jobs.runs("cleanup")[0]["deleted_cross_section"] == 0


def test_old_picks_and_ai_results_go_but_every_day_the_screening_index_holds_keeps_its_picks(
    storage, make_settings, clock, registry
):
    settings = analysed_store(storage, make_settings, clock, retention_screening_days=30, retention_picks_days=5,
                              retention_ai_days=10)
    for n, age in enumerate((11, 9, 0)):
        storage.ai.save_ai_result({"_id": f"r{n}", "status": "ok", "tickers": ["005930"],
                                "created_utc": clock() - dt.timedelta(days=age)})
    names = storage.picks.picks_state()["strategies"]  # the analysis stores every strategy's, not just the registry's
    days_before = {n: set(storage.picks.daily_picks_days(n)) for n in names}
    cuts = {c.kind: c for c in plan(storage, settings, xkrx(), registry, clock(), job=DAYS)}
    # 5 days would drop picks of days whose rows are kept, which the analysis would compute again
    assert cuts["picks"].before == cuts["screening"].before and "held back" in cuts["picks"].why
    old = {n: {d for d in days if d < cuts["picks"].before.isoformat()} for n, days in days_before.items()}
    assert apply(cuts["picks"], dry_run=True) == sum(map(len, old.values())) > 0
    assert apply(cuts["ai"], dry_run=True) == 1

    assert run_cleanup(storage, settings, clock, registry) == 0
    run = storage.jobs.runs("cleanup")[0]
    assert run["deleted_picks"] == sum(map(len, old.values())) and run["deleted_ai"] == 1
    assert {n: set(storage.picks.daily_picks_days(n)) for n in names} == {n: days_before[n] - old[n] for n in names}
    assert storage.picks.picks_state()["first_day"] == cuts["picks"].before.isoformat()
    assert sorted(r["_id"] for r in storage.ai.ai_results_for("005930", 10)) == ["r1", "r2"]

    # the next analysis of the day computes nothing again, and a second cleanup deletes nothing more
    storage.tickers.update_many({}, {"$set": {"last_analyzed_date": None}})
    assert run_analysis(storage, settings, evening(LAST, 23), clock) == 0
    assert {n: set(storage.picks.daily_picks_days(n)) for n in names} == {n: days_before[n] - old[n] for n in names}
    assert run_cleanup(storage, settings, clock, registry) == 0
    assert (storage.jobs.runs("cleanup")[0]["deleted_picks"], storage.jobs.runs("cleanup")[0]["deleted_ai"]) == (0, 0)


def test_picks_kept_longer_than_the_screening_rows_go_at_their_own_bound(storage, make_settings, clock, registry):
    settings = analysed_store(storage, make_settings, clock, retention_screening_days=30, retention_picks_days=150)
    cuts = {c.kind: c for c in plan(storage, settings, xkrx(), registry, clock(), job=DAYS)}
    assert cuts["picks"].before == LAST - dt.timedelta(days=150) < cuts["screening"].before
    assert run_cleanup(storage, settings, clock, registry) == 0
    for name in storage.picks.picks_state()["strategies"]:
        assert min(storage.picks.daily_picks_days(name)) >= (LAST - dt.timedelta(days=150)).isoformat()
    forever = make_settings(setup_history_sessions=120, retention_picks_days=0, retention_ai_days=0)
    cuts = {c.kind: c for c in plan(storage, forever, xkrx(), registry, clock(), job=DAYS)}
    assert cuts["picks"].before is None and cuts["ai"].before is None


def rejected(ticker: str, reason: str) -> dict:
    """A refused bar as the US pipeline stores it."""
    return {"kind": "bars", "source": "replay", "ticker": ticker, "date": "2025-06-13",
            "raw": {"close": -1.0}, "reason": reason, "job": "etf_pipeline"}


def test_rejected_records_go_when_not_seen_within_the_setting_and_one_still_sent_stays(
    storage, make_settings, clock, registry
):
    settings = make_settings(retention_rejected_days=30)
    first_seen = clock() - dt.timedelta(days=40)
    storage.bad_data.record_rejected([rejected("SPY", "close <= 0"), rejected("QQQ", "close <= 0")], first_seen)
    storage.bad_data.record_rejected([rejected("QQQ", "close <= 0")], clock() - dt.timedelta(days=2))  # sent again
    storage.bad_data.record_rejected([rejected("IWM", "high < low")], clock() - dt.timedelta(days=29))
    [cut] = [c for c in plan(storage, settings, xkrx(), registry, clock(), job=DAYS) if c.kind == "rejected"]
    assert cut.before == clock().replace(tzinfo=None) - dt.timedelta(days=30)
    # the dry run deleted nothing
    assert apply(cut, dry_run=True) == 1 and len(storage.bad_data.rejected_records()) == 3

    assert run_cleanup(storage, settings, clock, registry) == 0
    assert storage.jobs.runs("cleanup")[0]["deleted_rejected"] == 1
    left = {r["ticker"]: r for r in storage.bad_data.rejected_records()}
    assert sorted(left) == ["IWM", "QQQ"]
    assert left["QQQ"]["first_seen_utc"] == first_seen.replace(tzinfo=None)  # kept whole
    assert run_cleanup(storage, settings, clock, registry) == 0
    assert storage.jobs.runs("cleanup")[0]["deleted_rejected"] == 0

    forever = make_settings(retention_rejected_days=0)
    [cut] = [c for c in plan(storage, forever, xkrx(), registry, clock(), job=DAYS) if c.kind == "rejected"]
    assert cut.before is None and apply(cut) == 0 and cut.rule == "RETENTION_REJECTED_DAYS=0"


def test_rate_limit_counters_go_a_day_after_their_window_and_the_current_window_keeps_counting(
    storage, make_settings, clock, registry
):
    settings = make_settings()
    now = clock()
    storage.access.hit_rate_limit("ai:gone", now - dt.timedelta(days=3), 3600)  # a key that stopped calling
    storage.access.hit_rate_limit("ai:lastday", now - dt.timedelta(hours=26), 3600)  # its window ended 25 h ago
    storage.access.hit_rate_limit("ai:recent", now - dt.timedelta(hours=23), 3600)  # ended 22 h ago: within the day
    for _ in range(3):
        storage.access.hit_rate_limit("ai:current", now, 3600)
    [cut] = [c for c in plan(storage, settings, xkrx(), registry, now, job=DAYS) if c.kind == "rate_limits"]
    assert apply(cut, dry_run=True) == 2 and storage.access.rate_limits.count_documents({}) == 4

    assert run_cleanup(storage, settings, clock, registry) == 0
    assert storage.jobs.runs("cleanup")[0]["deleted_rate_limits"] == 2
    assert sorted(d["bucket"] for d in storage.access.rate_limits.find()) == ["ai:current", "ai:recent"]
    # the limit still holds: the current window's count went on from where it was
    assert storage.access.hit_rate_limit("ai:current", now + dt.timedelta(seconds=1), 3600)[0] == 4

    # at any moment of the hour, the window being counted is never deleted
    for minute in (0, 1, 30, 59):
        moment = now.replace(minute=minute, second=59 if minute == 59 else 0)
        storage.access.hit_rate_limit("ai:edge", moment, 3600)
        cuts = plan(
            storage, settings, xkrx(), registry, moment, job=DAYS
        )
        [cut] = [c for c in cuts if c.kind == "rate_limits"]
        apply(cut)
        assert storage.access.rate_limits.count_documents({"bucket": "ai:edge"}) == 1


def test_the_dry_run_lists_rejected_records_and_rate_limit_counters_and_deletes_neither(make_settings, capsys):
    settings = make_settings(retention_rejected_days=10)
    storage = Storage(get_client("mongomock://"))
    now = dt.datetime.now(dt.UTC)
    storage.bad_data.record_rejected([rejected("SPY", "close <= 0")], now - dt.timedelta(days=11))
    storage.access.hit_rate_limit("ai:gone", now - dt.timedelta(days=2), 3600)
    storage.access.hit_rate_limit("ai:current", now, 3600)

    assert cleanup_script.main(["--dry-run"], settings=settings) == 0
    lines = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines()[3:]}
    assert lines["rejected"].split()[1:3] == ["RETENTION_REJECTED_DAYS=10", "1"]
    assert lines["rate_limits"].split()[1:5] == ["fixed:", "1", "day", "1"]
    assert len(storage.bad_data.rejected_records()) == 1 and storage.access.rate_limits.count_documents({}) == 2

    assert cleanup_script.main([], settings=settings) == 0
    run = storage.jobs.runs("cleanup")[0]
    assert (run["deleted_rejected"], run["deleted_rate_limits"]) == (1, 1)
    assert [d["bucket"] for d in storage.access.rate_limits.find()] == ["ai:current"]


def _old_and_recent(storage: Storage, old: dt.date, recent: dt.date) -> None:
    """Two tickers' bars, quarantined bars and measure values on an old day and a recent one."""
    # the last collected day, that the cutoff counts back from
    storage.jobs.mark_day(LAST, "completed", {"rows": 1}, job=DAYS)
    for ticker in ("005930", "000660"):
        storage.bars.upsert_bars({ticker: [{"date": to_utc_midnight(d), "close": 1} for d in (old, old + dt.timedelta(
            1
        ),
                                                                                         recent)]})
    storage.bad_data.quarantine_bars([{"ticker": t, "day": d, "market": "KOSPI", "reason": "test",
                              "bar": {"date": to_utc_midnight(d), "close": 1}}
                             for t in ("005930", "000660", "035720") for d in (old, recent)])
    storage.cross_section.save_cross_section({t: {d.isoformat(): {"rs_rating": 50.0} for d in (old, recent)}
                                for t in ("005930", "000660", "035720")})
    storage.cross_section.mark_computed([old, recent], ["rs_rating"], {old: 3, recent: 3}, {})


def test_a_cleanup_cut_inside_a_delete_then_run_again_leaves_what_an_uncut_one_leaves(make_settings, clock, registry):
    import mongomock_ng

    from tests.batch_cut import BatchCut, cut_points
    from tests.helpers import SimulatedKill

    old, recent = D(2024, 1, 2), D(2025, 6, 2)
    bounded = make_settings(retention_prices_days=400)

    def kept(store: Storage) -> dict:
        names = ("bad_data", "cross_section", "cross_section_days")
        out = {name: list(store.system[name].find({}).sort("_id", 1)) for name in names}
        return out | {t: store.bars.read_bars(t) for t in store.bars.stored_tickers()}

    def scenario(cut):
        store = Storage(mongomock_ng.MongoClient(), prefix="c_")
        _old_and_recent(store, old, recent)
        with BatchCut(cut).installed() as cutter:
            try:
                assert run_cleanup(store, bounded, clock, registry) == 0
            except SimulatedKill:
                clock.advance(minutes=bounded.lock_timeout_minutes + 1)
                assert run_cleanup(store, bounded, clock, registry) == 0
        return store, cutter

    reference, counted = scenario(None)
    expected = kept(reference)
    assert [b["date"].date() for b in reference.bars.read_bars("000660")] == [recent]
    assert {p.split(".", 1)[1] for p, _ in counted.calls} >= {"<ticker>", "bad_data", "cross_section"}
    for cut in cut_points(counted.calls):
        crashed, cutter = scenario(cut)
        assert cutter.fired, f"{cut} never happened"
        assert kept(crashed) == expected, f"differs after {cut} ({counted.calls[cut.call - 1]})"


def test_news_older_than_its_setting_goes_with_its_earlier_values_and_filings_are_kept_forever(
    storage, make_settings, clock, registry
):
    from lib.spine.watermark_page import Item, plan_page

    now = clock().replace(tzinfo=None)

    def store(dataset, key, at, data):
        page = plan_page(dataset, [Item(key, at, data, at)], storage.watermarks.stored_items(dataset, [key]),
                         now, vintages=False)
        storage.watermarks.store_vintages(page.vintages)
        storage.watermarks.store_items(page.items)

    old, recent = now - dt.timedelta(days=40), now - dt.timedelta(days=3)
    store("krx.news", "005930|old", old, {"ticker": "005930", "title": "첫 제목"})
    store("krx.news", "005930|old", old, {"ticker": "005930", "title": "고친 제목"})  # an edit: one vintage
    store("krx.news", "005930|new", recent, {"ticker": "005930", "title": "최근 기사"})
    store("krx.disclosures", "20250101000001", old, {"ticker": "005930", "title": "분기보고서"})
    settings = make_settings(retention_news_days=30)
    cuts = {c.kind: c for c in plan(storage, settings, xkrx(), registry, clock(), job=DAYS)}
    assert cuts["krx_news"].rule == "RETENTION_NEWS_DAYS=30" and apply(cuts["krx_news"], dry_run=True) == 1
    assert cuts["krx_disclosures"].before is None  # RETENTION_DISCLOSURES_DAYS=0 by default: forever

    assert run_cleanup(storage, settings, clock, registry) == 0
    assert storage.jobs.runs("cleanup")[0]["deleted_krx_news"] == 1
    assert [i["key"] for i in storage.watermarks.wm_items.find({"dataset": "krx.news"})] == ["005930|new"]
    assert storage.watermarks.vintage_count("krx.news") == 0
    assert storage.watermarks.item_count("krx.disclosures") == 1


def test_finished_lease_plans_go_a_week_after_they_were_planned_and_unfinished_ones_stay(
    storage, make_settings, clock, registry
):
    now, ttl = clock(), dt.timedelta(minutes=10)
    for scope, age in (("us.stocks|old", 8), ("us.stocks|stuck", 8), ("us.stocks|recent", 6)):
        planned = now - dt.timedelta(days=age)
        storage.leases.plan(scope, [("0000", ["AAPL", "MSFT"])], "vm-a", planned)
        storage.leases.claim(scope, "vm-a", planned, ttl)
        if scope != "us.stocks|stuck":
            storage.leases.complete(scope, "0000", "vm-a", planned)
    assert run_cleanup(storage, make_settings(), clock, registry) == 0
    assert storage.jobs.runs("cleanup")[0]["deleted_leases"] == 2  # the old plan and its one batch
    assert {d["scope"] for d in storage.leases.leases.find()} == {"us.stocks|stuck", "us.stocks|recent"}
