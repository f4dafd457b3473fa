"""system_info.job_status (a record per collected day and per run) and system_info.locks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from lib.storage.client import StoreBase, naive_utc

DONE_STATUSES = ("completed", "no_data")


class JobsStore(StoreBase):
    """Day records, run records and named locks."""

    def _job_indexes(self) -> None:
        self.job_status.create_index([("kind", ASCENDING), ("job_name", ASCENDING), ("date_kst", ASCENDING)])
        self.job_status.create_index([("kind", ASCENDING), ("start_time_utc", DESCENDING)])
        self.job_status.create_index([("kind", ASCENDING), ("job_name", ASCENDING), ("start_time_utc", DESCENDING)])

    # --- days -------------------------------------------------------------------------------------

    def done_days(self, job: str, statuses: tuple[str, ...] = DONE_STATUSES) -> set[dt.date]:
        """Trading days whose collection is finished (completed, or recorded as published without data); with
        `statuses`, the days recorded with one of those."""
        cursor = self.job_status.find(
            {"kind": "day", "job_name": job, "status": {"$in": list(statuses)}}, {"date_kst": 1}
        )
        return {dt.date.fromisoformat(doc["date_kst"]) for doc in cursor}

    def last_done_day(self, job: str) -> dt.date | None:
        """The newest trading day (in its market's zone) whose collection by `job` is finished: one indexed read,
        however long the history."""
        doc = self.job_status.find_one(
            {"kind": "day", "job_name": job, "status": {"$in": list(DONE_STATUSES)}},
            {"date_kst": 1},
            sort=[("kind", ASCENDING), ("job_name", ASCENDING), ("date_kst", DESCENDING)],
        )
        return dt.date.fromisoformat(doc["date_kst"]) if doc else None

    def day_fingerprints(self, job: str) -> dict[dt.date, dict[str, str]]:
        """The digest of each stored part of each day (a market's closes and volumes), to catch a stale answer
        repeating a neighbouring session."""
        cursor = self.job_status.find(
            {"kind": "day", "job_name": job, "fingerprints": {"$exists": True}}, {"date_kst": 1, "fingerprints": 1}
        )
        return {dt.date.fromisoformat(doc["date_kst"]): doc["fingerprints"] for doc in cursor}

    def day_records(self, job: str) -> list[dict]:
        """Every day record of a market's collection job, oldest first."""
        return list(self.job_status.find({"kind": "day", "job_name": job}).sort("date_kst", ASCENDING))

    def unfinished_days(self, job: str) -> dict[dt.date, dict]:
        """The day records that are not done (partial, empty, failed), by day."""
        cursor = self.job_status.find({"kind": "day", "job_name": job, "status": {"$nin": list(DONE_STATUSES)}})
        return {dt.date.fromisoformat(doc["date_kst"]): doc for doc in cursor}

    def mark_day(self, day: dt.date, status: str, fields: Mapping[str, Any], *, job: str) -> None:
        """Record a day's collection outcome (`<date>_<job>`); only 'completed' and 'no_data' count as done."""
        self._write(f"job_status.day.{day}")
        doc = {"kind": "day", "job_name": job, "date_kst": day.isoformat(), "status": status, **fields}
        self.job_status.replace_one({"_id": f"{day.isoformat()}_{job}"}, doc, upsert=True)

    def forget_day(self, day: dt.date, *, job: str) -> bool:
        """Make a day pending again (its stored bars stay until overwritten); True if it was recorded."""
        self._write(f"job_status.forget.{day}")
        result = self.job_status.delete_one({"_id": f"{day.isoformat()}_{job}"})
        return result.deleted_count == 1

    # --- runs -------------------------------------------------------------------------------------

    def start_run(self, run_id: str, doc: Mapping[str, Any]) -> None:
        """Insert a run record in state 'running'."""
        self._write("job_status.run.start")
        self.job_status.insert_one({"_id": run_id, "kind": "run", "status": "running", **doc})

    def finish_run(self, run_id: str, fields: Mapping[str, Any]) -> None:
        """Close a run record with its final status and counts."""
        self._write("job_status.run.finish")
        self.job_status.update_one({"_id": run_id}, {"$set": dict(fields)})

    def abandon_run(self, run_id: str, ended: dt.datetime, reason: str) -> None:
        """Mark a run that died without closing its record (kill -9, power loss) as failed."""
        self._write("job_status.run.abandon")
        self.job_status.update_one(
            {"_id": run_id, "status": "running"},
            {"$set": {"status": "failed", "end_time_utc": naive_utc(ended), "error": reason}},
        )

    def running_runs(self, job_name: str) -> list[dict]:
        """The job's runs still marked running (live ones, and dead ones nobody closed yet)."""
        return list(self.job_status.find({"kind": "run", "job_name": job_name, "status": "running"},
                                         {"_id": 1, "host": 1, "start_time_utc": 1}))

    def job_names(self, kind: str) -> list[str]:
        """The job names that have records of this kind ("day": the collected markets, "run": every job)."""
        return sorted(self.job_status.distinct("job_name", {"kind": kind}))

    def days_of(self, job_name: str) -> list[dict]:
        """One market's day records (its collection job's name), oldest first, without bulky fields."""
        bulky = {"fingerprint": 0, "fingerprints": 0, "sources": 0}
        cursor = self.job_status.find({"kind": "day", "job_name": job_name}, bulky)
        return list(cursor.sort("date_kst", ASCENDING))

    def latest_run(self, job_name: str, status: str | None = None, before: dt.datetime | None = None) -> dict | None:
        """A job's newest run record (with that status, started before `before`)."""
        query: dict[str, Any] = {"kind": "run", "job_name": job_name}
        if status:
            query["status"] = status
        if before is not None:
            query["start_time_utc"] = {"$lt": naive_utc(before)}
        return self.job_status.find_one(query, sort=[("start_time_utc", DESCENDING)])

    def streak_start(self, job_name: str, latest: dict, source: str | None = None) -> dict:
        """The first run of the streak ending at `latest`: consecutive runs that failed or, with `source`,
        that found that source blocked. Two indexed reads, however long the streak."""
        query: dict[str, Any] = {
            "kind": "run", "job_name": job_name, "start_time_utc": {"$lt": latest["start_time_utc"]},
        }
        if source is None:
            query["status"] = {"$ne": "failed"}
        else:
            query[f"blocked_sources.{source}"] = {"$exists": False}
        breaker = self.job_status.find_one(query, sort=[("start_time_utc", DESCENDING)])
        first: dict[str, Any] = {"kind": "run", "job_name": job_name}
        if breaker is not None:
            first["start_time_utc"] = {"$gt": breaker["start_time_utc"]}
        return self.job_status.find_one(first, sort=[("start_time_utc", ASCENDING)]) or latest

    def count_runs_between(self, job_name: str, first: dict, last: dict) -> int:
        """How many runs of the job started from `first` to `last`, both included."""
        return self.job_status.count_documents({
            "kind": "run", "job_name": job_name,
            "start_time_utc": {"$gte": first["start_time_utc"], "$lte": last["start_time_utc"]},
        })

    def delete_runs_before(self, cutoff: dt.datetime, dry_run: bool = False) -> int:
        """Delete run records that started before `cutoff` (or, with dry_run, count them), except each job's
        latest run and runs still marked running (a live run, or a dead one the next run will close)."""
        keep = [run["_id"] for job in self.job_names("run") if (run := self.latest_run(job))]
        query = {
            "kind": "run", "status": {"$ne": "running"},
            "start_time_utc": {"$lt": naive_utc(cutoff)}, "_id": {"$nin": keep},
        }
        return self._delete_or_count(self.job_status, query, "job_status.run.cleanup", dry_run)

    def runs(self, job_name: str | None = None, limit: int = 20) -> list[dict]:
        """The most recent run records, newest first."""
        query: dict[str, Any] = {"kind": "run"}
        if job_name:
            query["job_name"] = job_name
        return list(self.job_status.find(query).sort("start_time_utc", DESCENDING).limit(limit))

    # --- locks ------------------------------------------------------------------------------------

    def acquire_lock(
        self, name: str, owner: str, now: dt.datetime, ttl: dt.timedelta
    ) -> tuple[bool, dict | None]:
        """Take the named lock. Returns (acquired, previous holder); the holder is stale if we took it."""
        now = naive_utc(now)
        fields = {"owner": owner, "acquired_utc": now, "heartbeat_utc": now, "expires_utc": now + ttl}
        self._write(f"locks.{name}.acquire")
        try:
            self.locks.insert_one({"_id": name, **fields})
            return True, None
        except DuplicateKeyError:
            pass
        previous = self.locks.find_one_and_update(
            {"_id": name, "expires_utc": {"$lt": now}},
            {"$set": fields},
            return_document=ReturnDocument.BEFORE,
        )
        if previous is not None:
            return True, previous
        return False, self.locks.find_one({"_id": name})

    def refresh_lock(self, name: str, owner: str, now: dt.datetime, ttl: dt.timedelta) -> bool:
        """Extend our lock; False when someone else holds it now."""
        now = naive_utc(now)
        self._write(f"locks.{name}.refresh")
        result = self.locks.update_one(
            {"_id": name, "owner": owner}, {"$set": {"heartbeat_utc": now, "expires_utc": now + ttl}}
        )
        return result.matched_count == 1

    def lock_of(self, owner: str) -> dict | None:
        """The lock this run holds, if it still holds one."""
        return self.locks.find_one({"owner": owner})

    def release_lock(self, name: str, owner: str) -> None:
        """Give the lock back if we still hold it."""
        self._write(f"locks.{name}.release")
        self.locks.delete_one({"_id": name, "owner": owner})
