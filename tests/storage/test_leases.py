"""system_info.leases (lib/storage/leases.py) on the embedded database and, with MONGODB_TEST_URI, on a real
server: one plan per scope, exclusive claims, renewal and completion only by the holder, takeover on expiry."""

from __future__ import annotations

import datetime as dt
import threading

from tests.test_storage import store  # noqa: F401 - the embedded/real fixture

NOW = dt.datetime(2025, 9, 30, 21, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(minutes=10)
SCOPE = "us.stocks|2025-09-29..2025-09-30"
PLAN = [("0000", ["AAPL", "MSFT"]), ("0001", ["NVDA", "AMZN"]), ("0002", ["JPM"])]


def test_two_planners_racing_store_one_plan_and_both_get_it(store):  # noqa: F811
    other = [("0000", ["AAPL"]), ("0001", ["MSFT", "NVDA", "AMZN", "JPM"])]  # planned from another universe
    start = threading.Barrier(2)
    answers: dict[str, list] = {}

    def planner(holder: str, batches: list) -> None:
        start.wait()
        answers[holder] = store.leases.plan(SCOPE, batches, holder, NOW)

    threads = [threading.Thread(target=planner, args=("vm-a", PLAN)),
               threading.Thread(target=planner, args=("vm-b", other))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers["vm-a"] == answers["vm-b"]  # whoever won, both work from the same stored plan
    names = [b["name"] for b in answers["vm-a"]]
    assert store.leases.remaining(SCOPE) == len(names)
    stored = {d["name"]: d["items"] for d in store.leases.leases.find({"kind": "batch", "scope": SCOPE})}
    assert stored == {b["name"]: b["items"] for b in answers["vm-a"]}
    # a later planner (the next cron run) changes nothing either
    assert store.leases.plan(SCOPE, [("x", ["TSLA"])], "vm-c", NOW + TTL) == answers["vm-a"]
    assert store.leases.leases.count_documents({"scope": SCOPE}) == 1 + len(names)


def test_a_claimed_batch_is_nobody_elses_until_its_lease_expires(store):  # noqa: F811
    store.leases.plan(SCOPE, PLAN, "vm-a", NOW)
    first = store.leases.claim(SCOPE, "vm-a", NOW, TTL)
    second = store.leases.claim(SCOPE, "vm-b", NOW, TTL)
    third = store.leases.claim(SCOPE, "vm-c", NOW, TTL)
    assert [first["name"], second["name"], third["name"]] == ["0000", "0001", "0002"]
    assert (first["holder"], first["attempts"], first["taken_over"]) == ("vm-a", 1, False)
    assert first["expires_utc"] == (NOW + TTL).replace(tzinfo=None)
    assert store.leases.claim(SCOPE, "vm-d", NOW + TTL / 2, TTL) is None  # every batch held by a live worker
    # vm-b renews, vm-a and vm-c fall silent: after the lease time theirs are taken over, in plan order
    assert store.leases.renew(SCOPE, "0001", "vm-b", NOW + TTL / 2, TTL)
    later = NOW + TTL + dt.timedelta(seconds=1)
    taken = store.leases.claim(SCOPE, "vm-d", later, TTL)
    assert (taken["name"], taken["holder"], taken["attempts"]) == ("0000", "vm-d", 2)
    assert (taken["taken_over"], taken["previous_holder"]) == (True, "vm-a")
    assert store.leases.claim(SCOPE, "vm-d", later, TTL)["name"] == "0002"
    assert store.leases.claim(SCOPE, "vm-e", later, TTL) is None  # 0001 was renewed


def test_a_worker_that_lost_its_batch_can_neither_renew_nor_complete_it(store):  # noqa: F811
    store.leases.plan(SCOPE, PLAN[:1], "vm-a", NOW)
    store.leases.claim(SCOPE, "vm-a", NOW, TTL)
    later = NOW + TTL * 2
    assert store.leases.claim(SCOPE, "vm-b", later, TTL)["previous_holder"] == "vm-a"
    assert not store.leases.renew(SCOPE, "0000", "vm-a", later, TTL)
    assert not store.leases.complete(SCOPE, "0000", "vm-a", later)
    assert store.leases.remaining(SCOPE) == 1
    assert store.leases.complete(SCOPE, "0000", "vm-b", later)
    assert store.leases.remaining(SCOPE) == 0
    assert not store.leases.complete(SCOPE, "0000", "vm-b", later)  # once
    assert not store.leases.renew(SCOPE, "0000", "vm-b", later, TTL)  # a done batch is nobody's to renew
    assert store.leases.claim(SCOPE, "vm-c", later + TTL * 9, TTL) is None  # nor to claim, however late


def test_cleanup_deletes_only_finished_plans_older_than_the_cutoff(store):  # noqa: F811
    old, unfinished, recent = "old|a", "old|b", "recent|a"
    for scope, when in ((old, NOW - dt.timedelta(days=10)), (unfinished, NOW - dt.timedelta(days=10)),
                        (recent, NOW)):
        store.leases.plan(scope, PLAN[:1], "vm-a", when)
        store.leases.claim(scope, "vm-a", when, TTL)
        if scope != unfinished:
            store.leases.complete(scope, "0000", "vm-a", when)
    cutoff = NOW - dt.timedelta(days=7)
    assert store.leases.delete_finished_before(cutoff, dry_run=True) == 2  # the old plan and its batch
    assert store.leases.delete_finished_before(cutoff) == 2
    assert {d["scope"] for d in store.leases.leases.find()} == {unfinished, recent}
    assert store.leases.remaining(unfinished) == 1  # a later run still works through it
