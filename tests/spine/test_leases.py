"""Several workers sharing a run through leases (lib/spine/leases.py): as threads on one embedded store, one
killed mid-batch, every bar is stored once and none is lost; a worker that lost its batch stops without
completing it; a run that cannot finish by its deadline says who holds what; a shared dataset's lock is per host
(lib/cli.py)."""

from __future__ import annotations

import csv
import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest

from lib.errors import TransientSourceError
from lib.spine import registry as registry_module
from lib.spine.datasets import Dataset, Registry
from lib.spine.leases import Batch, Leases, default_holder, work_through
from lib.storage import Storage, get_client
from lib.storage.dates import to_utc_midnight
from tests.conftest import US_SAMPLE

START = dt.datetime(2025, 9, 30, 21, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(seconds=600)  # US_STOCKS_LEASE_SECONDS' default
POLL = 60.0
SCOPE = "us.stocks|2025-09-24..2025-09-30"
TICKERS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "AVGO", "TSLA", "JPM", "LLY", "V", "WMT"]
DAYS = 5  # the last five sessions of the sample: 2025-09-24 .. 2025-09-30


class SharedClock:
    """The workers' wall clock, on virtual time: a waiting worker moves it on by its poll, but only while no
    worker is between a claim and its completion (a lease of a live worker never expires under it, however the
    threads are scheduled; the killed worker's does). Thread-safe."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start
        self.busy = 0  # workers between a claim and its completion
        self.changed = threading.Condition()

    def __call__(self) -> dt.datetime:
        with self.changed:
            return self.now

    def begin(self) -> None:
        with self.changed:
            self.busy += 1

    def end(self) -> None:
        with self.changed:
            self.busy -= 1
            self.changed.notify_all()

    def sleep(self, seconds: float) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.busy == 0, timeout=5)
            self.now += dt.timedelta(seconds=seconds)


class TimedLeases(Leases):
    """A worker's leases that tell the shared clock when the worker holds a batch."""

    def claim(self, scope: str) -> Batch | None:
        self.clock.begin()  # before the claim: no time passes between it and the work
        batch = super().claim(scope)
        if batch is None:
            self.clock.end()
        return batch

    def complete(self, batch: Batch) -> bool:
        try:
            return super().complete(batch)
        finally:
            self.clock.end()


class Killed(Exception):
    """The worker's process died (kill -9, the VM lost): it stops in the middle and never renews again."""


def sample_bars(ticker: str) -> list[dict]:
    """The ticker's last DAYS real bars from the US sample (yfinance, 2024-10-01..2025-09-30)."""
    with open(US_SAMPLE / "us_stocks" / f"{ticker}.csv") as handle:
        rows = list(csv.DictReader(handle))[-DAYS:]
    return [{"date": to_utc_midnight(dt.date.fromisoformat(r["date"])), "open": float(r["open"]),
             "high": float(r["high"]), "low": float(r["low"]), "close": float(r["close"]),
             "volume": int(float(r["volume"]))} for r in rows]


def test_workers_as_threads_one_killed_mid_batch_store_every_bar_once_and_lose_none():
    bars = {ticker: sample_bars(ticker) for ticker in TICKERS}
    plan = {f"{i:04d}": TICKERS[i * 3:i * 3 + 3] for i in range(4)}
    clock = SharedClock(START)
    written: dict[str, int] = {}  # writes per ticker (a write that changed nothing counts 0)
    killed_has_claimed = threading.Event()
    summaries, errors = {}, {}

    def worker(holder: str, dies: bool) -> None:
        storage = Storage(get_client("mongomock://"), prefix="test_")  # one embedded server for every worker
        leases = TimedLeases(storage, holder, TTL, clock)

        def work(batch: Batch, keep) -> None:
            if dies:
                killed_has_claimed.set()
            for n, ticker in enumerate(batch.items):
                if dies and n == len(batch.items) // 2 + 1:
                    raise Killed(f"{holder} killed after storing {n} of {len(batch.items)} tickers")
                count = storage.scoped("us_").bars.upsert_bars({ticker: bars[ticker]})
                written[ticker] = written.get(ticker, 0) + count
                assert keep()

        if not dies:
            killed_has_claimed.wait(5)  # the doomed worker is mid-batch while the others start
        leases.plan(SCOPE, plan)  # every worker plans; the first plan stored is everyone's
        try:
            summaries[holder] = work_through(leases, SCOPE, work, POLL, START + dt.timedelta(hours=1),
                                             sleep=clock.sleep)
        except Killed as exc:
            errors[holder] = exc
            clock.end()  # dead: it holds its batch no more than its lease says

    threads = [threading.Thread(target=worker, args=("vm-a:1", True))]
    threads += [threading.Thread(target=worker, args=(f"vm-{name}:1", False)) for name in "bcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)

    assert list(errors) == ["vm-a:1"] and len(summaries) == 3  # one died, the three others returned
    assert sum(s.done for s in summaries.values()) == len(plan)
    assert sum(s.taken_over for s in summaries.values()) == 1  # the killed worker's batch, after its lease
    assert clock() >= START + TTL  # ... expired: it was taken over only then
    stored = Storage(get_client("mongomock://"), prefix="test_").scoped("us_")
    for ticker in TICKERS:  # every bar there once, as the source had it
        assert stored.bars.read_bars(ticker) == [{k: v for k, v in b.items() if k != "_id"} for b in bars[ticker]]
    # and written once: the worker that took the batch over wrote only what the killed one had not stored
    assert written == {ticker: DAYS for ticker in TICKERS}
    assert stored.leases.remaining(SCOPE) == 0


def test_a_worker_whose_batch_was_taken_over_stops_without_completing_it(storage, clock):
    slow, fast = Leases(storage, "vm-a:1", TTL, clock), Leases(storage, "vm-b:1", TTL, clock)
    slow.plan(SCOPE, {"0000": ["AAPL", "MSFT"]})
    steps: list[str] = []

    def work(batch: Batch, keep) -> None:
        clock.advance(seconds=TTL.total_seconds() + 1)  # a long stall (a hung request): the lease expires
        taken = fast.claim(SCOPE)
        assert taken is not None and taken.taken_over and taken.previous_holder == "vm-a:1"
        assert fast.complete(taken)
        for ticker in batch.items:
            if not keep():
                steps.append(f"stopped before {ticker}")
                return
            steps.append(ticker)

    summary = work_through(slow, SCOPE, work, POLL, None)
    assert steps == ["stopped before AAPL"]
    assert (summary.done, summary.taken_over, summary.lost, summary.waited) == (0, 0, 1, False)
    assert not slow.renew(Batch(SCOPE, "0000", ("AAPL", "MSFT")))


def test_a_run_past_its_deadline_names_the_batches_still_held_and_by_whom(storage, clock):
    other, me = Leases(storage, "vm-b:1", TTL, clock), Leases(storage, "vm-a:1", TTL, clock)
    me.plan(SCOPE, {"0000": ["AAPL"], "0001": ["MSFT"]})
    held = other.claim(SCOPE)
    renewals = []

    def sleep(seconds: float) -> None:  # vm-b is alive: it renews while we wait
        clock.advance(seconds=seconds)
        renewals.append(other.renew(held))

    deadline = clock() + dt.timedelta(minutes=30)
    with pytest.raises(TransientSourceError) as caught:
        work_through(me, SCOPE, lambda batch, keep: None, POLL, deadline, sleep=sleep)
    message = str(caught.value)
    assert "1 batch(es)" in message and "0000 by vm-b:1 until" in message and "next run" in message
    assert all(renewals) and len(renewals) == 30  # waited minute by minute up to the deadline, no further
    assert me.remaining(SCOPE) == 1  # its own batch (0001) was done before it waited


def test_a_worker_is_named_by_its_setting_else_by_host_and_process():
    assert default_holder(" vm-east-1 ") == "vm-east-1"
    host, pid = default_holder().rsplit(":", 1)
    assert host and int(pid) > 0


def test_a_shared_datasets_collection_lock_is_per_worker_so_hosts_share_a_run(make_settings, monkeypatch):
    from lib.cli import run_script

    toy = Dataset(market="us", kind="toy", label="toy", cadence="session", job="toy_update", lock="toy",
                  tz=ZoneInfo("America/New_York"), setup="", build=lambda settings: type("M", (), {"lock": "toy"}),
                  workers=True)
    monkeypatch.setattr(registry_module, "_registry", Registry((toy,)))
    storage = Storage(get_client("mongomock://"), prefix="")
    now = [START]
    ran: list[str] = []

    def run(worker: str, lock_name: str | None = None) -> int:
        settings = make_settings(us_worker_id=worker)
        return run_script("us.toy", "toy_update", None, settings, lambda market: lambda ctx: ran.append(ctx.lock_name),
                          lambda: now[0], lock_name=lock_name)

    # vm-b is running its share (its record open, its lock fresh): vm-a still runs its own, and leaves vm-b's be
    storage.jobs.acquire_lock("toy@vm-b", "toy_update_vm-b", START, TTL)
    storage.jobs.start_run("toy_update_vm-b", {"job_name": "toy_update", "host": "vm-b", "start_time_utc": START})
    assert run("vm-a") == 0 and ran == ["toy@vm-a"]
    assert storage.jobs.job_status.find_one({"_id": "toy_update_vm-b"})["status"] == "running"
    # a second run on vm-a while the first holds vm-a's lock exits without working
    storage.jobs.acquire_lock("toy@vm-a", "toy_update_vm-a", START, TTL)
    assert run("vm-a") == 0 and ran == ["toy@vm-a"]
    # another job on the dataset (analysis, cleanup) keeps its one lock per install
    assert run("vm-c", lock_name="toy_analysis") == 0 and ran[-1] == "toy_analysis"
    # vm-b died for good: once its lock expired, the next run on another host closes its record
    now[0] = START + TTL + dt.timedelta(seconds=1)
    assert run("vm-c") == 0 and ran[-1] == "toy@vm-c"
    dead = storage.jobs.job_status.find_one({"_id": "toy_update_vm-b"})
    assert dead["status"] == "failed" and "on vm-b holds no live lock" in dead["error"]
