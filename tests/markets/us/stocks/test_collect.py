"""us.stocks on the spine: the setup window, the catch-up over an outage, a kill at any write, an impossible
bar held out, a joiner's history; on a replay folder of five real tickers."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from lib.errors import TransientSourceError
from lib.markets.us.stocks.job import stocks_job
from lib.markets.us.stocks.market import us_stocks_market
from lib.spine.calendar import TradingCalendar
from lib.spine.runner import run_job
from tests.helpers import SimulatedKill, kill_at_write
from tests.markets.us.stocks.conftest import TICKERS, new_york, run_stocks, seed_universe, write_bars

XNYS = TradingCalendar(exchange="XNYS", settings_prefix="US")


def sessions(first: str, last: str) -> list[dt.date]:
    return XNYS.sessions_between(dt.date.fromisoformat(first), dt.date.fromisoformat(last))


def stored_days(storage, ticker: str) -> list[dt.date]:
    return [doc["date"].date() for doc in storage.bars.read_bars(ticker)]


def test_setup_then_a_catch_up_over_an_outage_stores_every_session_once(us_storage, stock_settings, clock):
    assert run_stocks(us_storage, stock_settings, "2025-09-05", clock, setup=True) == 0
    window = sessions("2025-08-29", "2025-09-05")  # the last 5 sessions
    assert all(stored_days(us_storage, t) == window for t in TICKERS)
    # Three weeks without a run, then one run collects every session since, and records each day completed.
    assert run_stocks(us_storage, stock_settings, "2025-09-26", clock) == 0
    expected = sessions("2025-08-29", "2025-09-26")
    for ticker in TICKERS:
        assert stored_days(us_storage, ticker) == expected  # none lost, none twice (the date is the _id)
    records = {r["date_kst"]: r for r in us_storage.jobs.job_status.find({"job_name": "us_stocks_update",
                                                                            "kind": "day"})}
    assert sorted(records) == [d.isoformat() for d in expected]
    assert {r["status"] for r in records.values()} == {"completed"}
    assert {r["rows"] for r in records.values()} == {len(TICKERS)}
    # The stored bar is the file's row, as traded.
    row = pd.read_csv(write_bars.__globals__["SAMPLE"] / "AAPL.csv").set_index("date").loc["2025-09-26"]
    bar = us_storage.bars.read_bars("AAPL", dt.date(2025, 9, 26))[0]
    assert bar["close"] == row["close"] and bar["volume"] == row["volume"] and bar["splits"] == 0.0


def test_an_impossible_bar_is_held_out_and_the_rest_of_the_day_stored(us_storage, stock_settings, replay_dir, clock):
    assert run_stocks(us_storage, stock_settings, "2025-09-05", clock, setup=True) == 0
    # MSFT's 2025-09-09 close printed at 100x (a decimal shifted in the answer), its high with it.
    path = replay_dir / "bars" / "MSFT.csv"
    frame = pd.read_csv(path, dtype=str)
    row = frame["date"] == "2025-09-09"
    shifted = f"{float(frame.loc[row, 'close'].iloc[0]) * 100:.4f}"
    frame.loc[row, ["close", "high"]] = shifted
    frame.to_csv(path, index=False)
    assert run_stocks(us_storage, stock_settings, "2025-09-12", clock) == 0
    held = us_storage.bad_data.quarantined("MSFT")
    assert [(h["date_kst"], h["bar"]["close"]) for h in held] == [("2025-09-09", float(shifted))]
    assert "beyond 10x" in held[0]["reason"]
    assert held[0]["bar"]["source"] == "replay"
    assert us_storage.bad_data.bad_data.find_one({"key": "MSFT"})["dataset"] == "us.stocks"
    msft = stored_days(us_storage, "MSFT")
    assert dt.date(2025, 9, 9) not in msft and dt.date(2025, 9, 10) in msft  # the next session is stored
    record = us_storage.jobs.job_status.find_one({"kind": "day", "job_name": "us_stocks_update",
                                                  "date_kst": "2025-09-09"})
    assert record["status"] == "completed" and record["rows"] == len(TICKERS) - 1


def test_a_joiner_gets_the_setup_window_of_history_in_the_next_run(us_storage, stock_settings, replay_dir, clock):
    assert run_stocks(us_storage, stock_settings, "2025-09-05", clock, setup=True) == 0
    write_bars(replay_dir, ("META",))
    seed_universe(us_storage, ("META",), day="2025-09-08")
    assert run_stocks(us_storage, stock_settings, "2025-09-09", clock) == 0
    assert stored_days(us_storage, "META") == sessions("2025-08-29", "2025-09-09")
    assert stored_days(us_storage, "AAPL") == sessions("2025-08-29", "2025-09-09")


def test_a_run_killed_at_any_write_is_completed_by_the_next(storage, stock_settings, clock):
    """Killed at a write of the setup run (bars, leases, day records, every few writes), the next cron run (after
    the lock's and the leases' timeouts) leaves the store as an uninterrupted run does."""

    market = us_stocks_market(stock_settings, sleep=lambda _s: None)  # one replay source: the files read once

    def run(root):
        scoped = root.scoped("us_")
        return run_stocks(scoped, stock_settings, "2025-09-05", clock, setup=True, market=market), scoped

    def bars(scoped):
        return {t: [(d["date"], d["close"], d["volume"]) for d in scoped.bars.read_bars(t)] for t in TICKERS}

    def days(scoped):
        return sorted((r["date_kst"], r["status"]) for r in scoped.jobs.job_status.find(
            {"kind": "day", "job_name": "us_stocks_update"}))

    seed_universe(storage.scoped("us_"))
    writes = kill_at_write(storage, None)  # the hook lives on the root store, every scope writes through it
    code, reference = run(storage)
    assert code == 0
    total = writes["n"]
    assert total >= 8
    killed = 0
    for crash_at in range(1, total + 1, 7):
        fresh = type(storage)(type(storage.client)(), prefix="test_")
        seed_universe(fresh.scoped("us_"))
        kill_at_write(fresh, crash_at)
        try:
            run(fresh)
        except SimulatedKill:
            killed += 1
            clock.advance(minutes=stock_settings.lock_timeout_minutes + 1)
        kill_at_write(fresh, None)
        code, scoped = run(fresh)
        assert code == 0
        assert bars(scoped) == bars(reference), f"killed at write {crash_at} of {total}"
        assert days(scoped) == days(reference), f"killed at write {crash_at} of {total}"
    assert killed == len(range(1, total + 1, 7))


def test_a_worker_killed_mid_batch_leaves_it_to_another_who_stores_every_bar_once(
        storage, make_settings, replay_dir, clock):
    """Two hosts share the setup run: vm-a dies after storing half of its first batch; vm-b does the other batches,
    waits for vm-a's lease to expire, takes the batch over and records the days. Every bar stored once."""
    seed_universe(storage.scoped("us_"))
    scoped = storage.scoped("us_")

    def worker(name: str):
        settings = make_settings(us_stocks=True, us_stocks_sources=["replay"], us_stocks_replay_dir=replay_dir,
                                 us_stocks_batch_size=2, us_stocks_lease_seconds=60, setup_history_sessions=5,
                                 us_worker_id=name)
        return settings, us_stocks_market(settings, sleep=lambda _s: None)

    def die_at_msft(what: str) -> None:  # batch 0001 is AAPL, MSFT: AAPL stored, then the host dies
        if "MSFT" in what:
            raise SimulatedKill

    settings_a, market_a = worker("vm-a")
    storage.on_write = die_at_msft
    try:
        run_stocks(scoped, settings_a, "2025-09-05", clock, setup=True, market=market_a, lock="us_stocks@vm-a")
    except SimulatedKill:
        pass
    storage.on_write = None
    assert stored_days(scoped, "AAPL") and not stored_days(scoped, "MSFT")
    settings_b, market_b = worker("vm-b")
    started = clock()
    assert run_stocks(scoped, settings_b, "2025-09-05", clock, setup=True, market=market_b,
                      lock="us_stocks@vm-b") == 0
    assert clock() - started >= dt.timedelta(seconds=60)  # it waited for vm-a's lease to expire
    window = sessions("2025-08-29", "2025-09-05")
    assert all(stored_days(scoped, t) == window for t in TICKERS)
    run = scoped.jobs.job_status.find_one({"kind": "run", "job_name": "us_stocks_update", "status": "completed"})
    # 3 batches of 2 tickers over the whole window (a year of sessions is one batch of days: batch_of)
    assert run["batches_taken_over"] == 1 and run["batches_done"] == 3 and run["days_completed"] == len(window)


def test_a_batch_another_worker_holds_without_progress_fails_the_run_for_the_next_to_continue(
        us_storage, stock_settings, clock):
    """A worker whose clock runs a day ahead holds a batch it never finishes: the run waits three lease times
    without progress, then stops (exit 1) naming the holder; nothing is recorded done that is not stored."""
    from lib.markets.us.stocks.market import batches_of
    from lib.spine.leases import Leases

    scope = "us.stocks|days|2025-08-29..2025-09-05|2025-09-05"  # the setup's sessions, as the collector names them
    ahead = Leases(us_storage, "vm-x", dt.timedelta(seconds=60), lambda: clock() + dt.timedelta(days=1))
    ahead.plan(scope, batches_of(TICKERS, 2))
    assert ahead.claim(scope).name == "0001"
    started = clock()
    assert run_stocks(us_storage, stock_settings, "2025-09-05", clock, setup=True) == 1
    assert dt.timedelta(seconds=180) < clock() - started < dt.timedelta(seconds=300)
    run = us_storage.jobs.job_status.find_one({"kind": "run", "job_name": "us_stocks_update"})
    assert "vm-x" in run["error"] and "the next run continues" in run["error"]
    assert us_storage.jobs.done_days("us_stocks_update") == set()
    assert stored_days(us_storage, "JPM") == sessions("2025-08-29", "2025-09-05")  # batch 0002, stored by this worker


def test_a_failed_weekly_universe_refresh_still_collects_the_day_with_the_stored_universe(
        us_storage, stock_settings, clock):
    assert run_stocks(us_storage, stock_settings, "2025-09-05", clock, setup=True) == 0

    def refused(_ctx, _force):
        raise TransientSourceError("Yahoo's screener answered 429 Too Many Requests")

    market = us_stocks_market(stock_settings, sleep=lambda _s: None)
    market.collector.sleep = lambda seconds: clock.advance(seconds=seconds)
    code = run_job("us_stocks_update", stock_settings, us_storage, new_york("2025-09-12"), clock,
                   lambda ctx: stocks_job(ctx, market, refresh=refused), lock_name=market.lock, tz=market.calendar.tz)
    assert code == 0
    assert all(stored_days(us_storage, t)[-1] == dt.date(2025, 9, 12) for t in TICKERS)
    [run] = us_storage.jobs.runs("us_stocks_update", limit=1)
    assert run["universe_refresh_failed"] == 1


def test_a_ticker_a_batch_answered_without_is_asked_again_by_the_next_run(us_storage, stock_settings, clock):
    assert run_stocks(us_storage, stock_settings, "2025-09-05", clock, setup=True) == 0
    # Yahoo left MSFT out of the last two sessions' answer ("no price data found"): the days were recorded anyway
    us_storage.bars.stock_db["MSFT"].delete_many({"_id": {"$gte": dt.datetime(2025, 9, 4)}})
    assert stored_days(us_storage, "MSFT")[-1] == dt.date(2025, 9, 3)
    assert run_stocks(us_storage, stock_settings, "2025-09-12", clock) == 0
    assert stored_days(us_storage, "MSFT") == sessions("2025-08-29", "2025-09-12")  # the gap healed, none twice
    [run] = us_storage.jobs.runs("us_stocks_update", limit=1)
    assert run["retried"] == 1
