"""Several workers sharing one run: a run's work is planned as named batches under a scope, and each worker
claims a batch through a lease in MongoDB (system_info.leases, lib/storage/leases.py), renews it while it works,
and completes it; a worker that dies stops renewing, its lease expires and another worker takes the batch over.
The run is complete when every batch of its scope is done, whoever did it.

A batch's work must be idempotent (storing bars is an upsert by date): a worker that lost its lease while
storing, and the one that took the batch over, may both store some of the same rows, and the result is the
same. Nothing here names a market: a collector plans its scope (e.g. its dataset and the days it fetches) and
hands `work_through` what to do with a batch."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from lib.errors import TransientSourceError
from lib.log import get_logger
from lib.storage import Storage

log = get_logger("leases")

RENEWALS_PER_TTL = 6  # keep() renews at least this often per lease time, like a run's lock (runner.pulse)


@dataclass(frozen=True)
class Batch:
    """One batch of a scope's work, as a worker claimed it (or as planned: not claimed yet)."""

    scope: str  # the shared run: e.g. "us.stocks|2025-09-02..2025-09-30"
    name: str  # unique within the scope: "0001"
    items: tuple[str, ...]  # what the batch covers: tickers
    attempts: int = 0  # claims so far, this one included (1: the first worker to take it)
    taken_over: bool = False  # another worker held it and stopped renewing (died, hung, or lost the database)
    previous_holder: str | None = None  # who held it before this claim


@dataclass(frozen=True)
class WorkSummary:
    """What one worker did in `work_through`."""

    done: int  # batches this worker completed
    taken_over: int  # of them, batches it took over from a worker whose lease had expired
    waited: bool  # it waited at least once for batches held by live workers
    lost: int = 0  # batches it worked on but lost to another worker before completing (their work now)


def default_holder(worker_id: str = "") -> str:
    """How this worker names itself in leases: `worker_id` (a setting such as US_WORKER_ID) when set, else
    hostname:pid, unique per process on a network of hosts with distinct names."""
    return worker_id.strip() or f"{socket.gethostname()}:{os.getpid()}"


class Leases:
    """One worker's leases: `holder` names it, `ttl` is how long a claim lasts without renewal, `clock` is the
    worker's wall clock (aware UTC; its times are stored, so the workers' clocks must agree to well within
    `ttl`)."""

    def __init__(self, storage: Storage, holder: str, ttl: dt.timedelta,
                 clock: Callable[[], dt.datetime]) -> None:
        if ttl <= dt.timedelta(0):
            raise ValueError(f"a lease time must be positive, got {ttl}")
        self.store = storage.leases
        self.holder = holder
        self.ttl = ttl
        self.clock = clock

    def plan(self, scope: str, batches: Mapping[str, Sequence[str]]) -> list[Batch]:
        """Store the scope's batches unless a plan is stored already (the first planner wins: a worker starting
        later, or racing, works through the same batches); returns the stored plan in order."""
        stored = self.store.plan(scope, [(name, list(items)) for name, items in batches.items()], self.holder,
                                 self.clock())
        return [Batch(scope, b["name"], tuple(b["items"])) for b in stored]

    def claim(self, scope: str) -> Batch | None:
        """A batch of the scope that is not done and free or abandoned (lease expired), now ours; None when every
        open batch is held by a live worker, or none is open."""
        doc = self.store.claim(scope, self.holder, self.clock(), self.ttl)
        if doc is None:
            return None
        return Batch(scope, doc["name"], tuple(doc["items"]), doc["attempts"], bool(doc["taken_over"]),
                     doc.get("previous_holder"))

    def renew(self, batch: Batch) -> bool:
        """Extend our lease on `batch`; False when it is no longer ours (another worker took it over)."""
        return self.store.renew(batch.scope, batch.name, self.holder, self.clock(), self.ttl)

    def complete(self, batch: Batch) -> bool:
        """Mark `batch` done; False when another worker took it over meanwhile (its work is theirs now)."""
        return self.store.complete(batch.scope, batch.name, self.holder, self.clock())

    def remaining(self, scope: str) -> int:
        """How many batches of the scope are not done (claimed or not)."""
        return self.store.remaining(scope)

    def held(self, scope: str) -> str:
        """The open batches of the scope and their holders, for people: "0002 by vm-b until 10:42:00Z, ..."."""
        parts = []
        for doc in self.store.open_batches(scope):
            if doc["holder"] is None:
                parts.append(f"{doc['name']} unclaimed")
            else:
                parts.append(f"{doc['name']} by {doc['holder']} until {doc['expires_utc']:%H:%M:%S}Z")
        return ", ".join(parts)


def work_through(
    leases: Leases,
    scope: str,
    work: Callable[[Batch, Callable[[], bool]], None],
    poll_seconds: float,
    deadline: dt.datetime | None,
    sleep: Callable[[float], None] = time.sleep,
) -> WorkSummary:
    """Claim and work the scope's batches until none is left. `work(batch, keep)` does a batch; `keep()` renews
    the lease (call it between steps) and returns False once the lease is lost, and the work should then stop
    and return: the batch is not completed by this worker. When no batch is claimable but some are held by
    live workers, wait `poll_seconds` and try again (an expired lease is taken over), until every batch is done
    or `deadline` (aware, by the leases' clock) passes: then TransientSourceError names the batches still open
    and their holders, and the next run continues. An exception from `work` propagates: the lease is left to
    expire, and another worker (or the next run) takes the batch over. `sleep` waits a poll: a job passes one
    that also extends its run lock (`ctx.pulse()`), as its `work` does between steps, so a long wait for other
    workers is never taken for a dead run."""
    done = taken_over = lost = 0
    waited = False
    while True:
        batch = leases.claim(scope)
        if batch is None:
            left = leases.remaining(scope)
            if not left:
                return WorkSummary(done, taken_over, waited, lost)
            now = leases.clock()
            if deadline is not None and now >= deadline:
                raise TransientSourceError(
                    f"{left} batch(es) of {scope} are still open at the deadline ({leases.held(scope)}); "
                    "the next run continues them"
                )
            waited = True
            pause = poll_seconds if deadline is None else min(poll_seconds, (deadline - now).total_seconds())
            sleep(max(pause, 0.0))
            continue
        if batch.taken_over:
            log.warning("%s: took over batch %s (%d items) from %s, whose lease expired (attempt %d)",
                        scope, batch.name, len(batch.items), batch.previous_holder, batch.attempts)
        keeper = _Keeper(leases, batch)
        work(batch, keeper)
        if not keeper.lost and leases.complete(batch):
            done += 1
            taken_over += batch.taken_over
        else:
            lost += 1
            log.warning("%s: lost batch %s to another worker before completing it; its work is theirs now",
                        scope, batch.name)


class _Keeper:
    """The `keep()` handed to a batch's work: renews the lease at most every ttl / RENEWALS_PER_TTL (a lease
    renewed that recently cannot have expired), and says False for good once it is lost."""

    def __init__(self, leases: Leases, batch: Batch) -> None:
        self.leases = leases
        self.batch = batch
        self.renewed = leases.clock()  # the claim itself
        self.lost = False

    def __call__(self) -> bool:
        if self.lost:
            return False
        now = self.leases.clock()
        if now - self.renewed < self.leases.ttl / RENEWALS_PER_TTL:
            return True
        if not self.leases.renew(self.batch):
            self.lost = True
            return False
        self.renewed = now
        return True
