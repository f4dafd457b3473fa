"""system_info.leases: batches of a shared run's work, each claimed by one worker at a time (lib/spine/leases.py).

Shared by every market's scope (on `self.system`). Two kinds of documents, keyed by `_id`:
- a plan, `_id` = "plan|<scope>": the scope's batches as the first planner stored them (insert with a unique key,
  so two planners racing store one plan and both work from it);
- a batch, `_id` = "batch|<scope>|<name>": its items, `seq` (plan order), `holder`, `expires_utc`, `attempts`,
  `taken_over`, `previous_holder`, `done`, `done_utc`. Every field is written at insert, so a claim or a renewal
  only replaces values (the embedded server mutates a stored document in place: no key appears under a reader).
Times are naive UTC, written by the workers' clocks (README: clock skew against US_STOCKS_LEASE_SECONDS)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from lib.storage.client import StoreBase, naive_utc


def plan_id(scope: str) -> str:
    """The `_id` of a scope's plan."""
    return f"plan|{scope}"


def batch_id(scope: str, name: str) -> str:
    """The `_id` of one batch of a scope."""
    return f"batch|{scope}|{name}"


class LeasesStore(StoreBase):
    """Plans of batches and the workers' leases on them: atomic claim, renewal, completion, takeover."""

    @property
    def leases(self) -> Any:
        """The shared collection (system_info.leases; not per market: a scope names its dataset)."""
        return self.system["leases"]

    def _leases_indexes(self) -> None:
        self.leases.create_index([("kind", ASCENDING), ("scope", ASCENDING), ("done", ASCENDING),
                                  ("seq", ASCENDING)])
        self.leases.create_index([("kind", ASCENDING), ("planned_utc", ASCENDING)])

    def plan(self, scope: str, batches: Sequence[tuple[str, Sequence[str]]], planner: str,
             now: dt.datetime) -> list[dict[str, Any]]:
        """Store the scope's plan unless one is stored (the first planner wins), make sure each of the stored
        plan's batches has its document (a planner killed between the two writes leaves them to the next one),
        and return the stored plan's batches in order: [{name, items}]."""
        now = naive_utc(now)
        self._write(f"leases.{scope}.plan")
        try:
            self.leases.insert_one({
                "_id": plan_id(scope), "kind": "plan", "scope": scope, "planner": planner, "planned_utc": now,
                "batches": [{"name": name, "items": list(items)} for name, items in batches],
            })
        except DuplicateKeyError:
            pass  # planned already (by an earlier run, or a worker racing us): its plan stands
        stored = self.leases.find_one({"_id": plan_id(scope)})
        for seq, batch in enumerate(stored["batches"]):
            fields = {"kind": "batch", "scope": scope, "name": batch["name"], "seq": seq, "items": batch["items"],
                      "planned_utc": stored["planned_utc"], "holder": None, "expires_utc": None,
                      "claimed_utc": None, "renewed_utc": None, "attempts": 0, "taken_over": False,
                      "previous_holder": None, "done": False, "done_utc": None}
            try:
                self.leases.update_one({"_id": batch_id(scope, batch["name"])}, {"$setOnInsert": fields},
                                       upsert=True)
            except DuplicateKeyError:
                pass  # two upserts of one new _id raced on a real server: the other one inserted it
        return [{"name": b["name"], "items": b["items"]} for b in stored["batches"]]

    def claim(self, scope: str, holder: str, now: dt.datetime, ttl: dt.timedelta) -> dict[str, Any] | None:
        """Take the scope's first batch (plan order) that is not done and is free or whose lease expired: ONE
        atomic find-and-modify (an update pipeline), so two workers never get the same batch. Returns the batch
        as claimed (holder, expiry, attempts + 1, `taken_over` and `previous_holder` when it had another holder),
        or None when none is claimable now."""
        now = naive_utc(now)
        self._write(f"leases.{scope}.claim")
        return self.leases.find_one_and_update(
            {"kind": "batch", "scope": scope, "done": False,
             "$or": [{"holder": None}, {"expires_utc": {"$lt": now}}]},
            [{"$set": {
                "taken_over": {"$ne": ["$holder", None]},  # read before the holder is replaced (one stage)
                "previous_holder": "$holder",
                "holder": {"$literal": holder},
                "claimed_utc": now,
                "renewed_utc": now,
                "expires_utc": now + ttl,
                "attempts": {"$add": ["$attempts", 1]},
            }}],
            sort=[("seq", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    def renew(self, scope: str, name: str, holder: str, now: dt.datetime, ttl: dt.timedelta) -> bool:
        """Extend `holder`'s lease; False when the batch is no longer its (taken over) or already done."""
        now = naive_utc(now)
        self._write(f"leases.{scope}.renew")
        result = self.leases.update_one({"_id": batch_id(scope, name), "holder": holder, "done": False},
                                        {"$set": {"renewed_utc": now, "expires_utc": now + ttl}})
        return result.matched_count == 1

    def complete(self, scope: str, name: str, holder: str, now: dt.datetime) -> bool:
        """Mark the batch done if `holder` still holds it; False when another worker took it over (the work is
        theirs now: storing is idempotent, so what we stored stays right)."""
        now = naive_utc(now)
        self._write(f"leases.{scope}.complete")
        result = self.leases.update_one({"_id": batch_id(scope, name), "holder": holder, "done": False},
                                        {"$set": {"done": True, "done_utc": now}})
        return result.matched_count == 1

    def remaining(self, scope: str) -> int:
        """How many of the scope's batches are not done."""
        return self.leases.count_documents({"kind": "batch", "scope": scope, "done": False})

    def open_batches(self, scope: str) -> list[dict[str, Any]]:
        """The scope's batches not done, in plan order, with their holder and expiry (for messages)."""
        return list(self.leases.find({"kind": "batch", "scope": scope, "done": False},
                                     {"name": 1, "holder": 1, "expires_utc": 1, "attempts": 1})
                    .sort("seq", ASCENDING))

    def delete_finished_before(self, before: dt.datetime, dry_run: bool = False) -> int:
        """Delete (or count) the plans planned before `before` whose batches are all done, with their batches;
        an unfinished plan stays (a later run still works through it). Returns the documents deleted."""
        before = naive_utc(before)
        scopes = [doc["scope"] for doc in self.leases.find({"kind": "plan", "planned_utc": {"$lt": before}},
                                                           {"scope": 1})]
        finished = [scope for scope in scopes if not self.remaining(scope)]
        if not finished:
            return 0
        return self._delete_or_count(self.leases, {"scope": {"$in": finished}}, "leases.cleanup", dry_run)
