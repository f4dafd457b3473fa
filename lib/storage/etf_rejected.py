"""us_etf.logs_rejected_records: the records a US source refused, with their raw value and reason, kept once
each (the same record seen again updates last_seen_utc)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import DESCENDING, UpdateOne

from lib.storage.client import StoreBase, naive_utc

REJECTED = "logs_rejected_records"


class RejectedStore(StoreBase):
    """The US sources' refused records; a base of EtfStore."""

    def record_rejected(self, records: Iterable[Mapping[str, Any]], now: dt.datetime) -> int:
        """Keep refused records with their raw value and reason; the same record seen again only updates
        last_seen_utc. Returns how many were new."""
        ops = []
        for record in records:
            body = json.dumps(
                {k: record.get(k) for k in ("kind", "source", "ticker", "date", "raw", "reason")},
                sort_keys=True, default=str,
            )
            key = hashlib.sha1(body.encode()).hexdigest()
            first = {**record, "first_seen_utc": naive_utc(now)}
            ops.append(UpdateOne({"_id": key}, {"$setOnInsert": first, "$set": {"last_seen_utc": naive_utc(now)}},
                                 upsert=True))
        if not ops:
            return 0
        self._write(REJECTED)
        result = self.etf_db[REJECTED].bulk_write(ops, ordered=False)
        return result.upserted_count

    def rejected_records(self, limit: int = 100) -> list[dict]:
        """The most recently seen rejected records."""
        return list(self.etf_db[REJECTED].find({}, {"_id": 0}).sort("last_seen_utc", DESCENDING).limit(limit))

    def delete_rejected_before(self, cutoff: dt.datetime, dry_run: bool = False) -> int:
        """Delete the rejected records last seen before `cutoff` (or, with dry_run, count them); returns how
        many. A record the source still sends is seen again on every run, so it stays."""
        query = {"last_seen_utc": {"$lt": naive_utc(cutoff)}}
        return self._delete_or_count(self.etf_db[REJECTED], query, f"{REJECTED}.cleanup", dry_run)
