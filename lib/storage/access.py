"""system_info.rate_limits: per-key request counters shared by every API worker process."""

from __future__ import annotations

import datetime as dt

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from lib.storage.client import StoreBase, naive_utc


class AccessStore(StoreBase):
    """Fixed-window counters: one document per key and window, incremented atomically. A key's past windows
    are deleted when its next window opens, and those of keys that stopped calling by the cleanup job (no TTL
    index: the pipeline's clocks decide, not the server's)."""

    @property
    def rate_limits(self):  # noqa: ANN201 - a pymongo collection
        """The counters collection."""
        return self.system["rate_limits"]

    def hit_rate_limit(self, bucket: str, now: dt.datetime, window_seconds: int) -> tuple[int, int]:
        """Count one request of `bucket` in the current window; returns (requests in this window including
        this one, seconds until the window ends). Atomic across processes: MongoDB's $inc on one document."""
        moment = naive_utc(now)
        epoch = int(moment.replace(tzinfo=dt.UTC).timestamp())
        start = epoch - epoch % window_seconds
        ends = dt.datetime.fromtimestamp(start + window_seconds, dt.UTC).replace(tzinfo=None)
        update = {"$inc": {"count": 1}, "$setOnInsert": {"bucket": bucket, "expires_utc": ends}}
        for _ in range(2):  # two first requests racing on the upsert: one inserts, the other retries
            try:
                doc = self.rate_limits.find_one_and_update(
                    {"_id": f"{bucket}:{start}"}, update, upsert=True, return_document=ReturnDocument.AFTER
                )
                break
            except DuplicateKeyError:
                continue
        if doc["count"] == 1:
            self.rate_limits.delete_many({"bucket": bucket, "expires_utc": {"$lte": moment}})
        return int(doc["count"]), max(1, start + window_seconds - epoch)

    def delete_rate_limits_before(self, cutoff: dt.datetime, dry_run: bool = False) -> int:
        """Delete the counters of windows that ended before `cutoff` (or, with dry_run, count them); returns how
        many. The keys that stopped calling leave theirs behind: hit_rate_limit clears only the caller's."""
        query = {"expires_utc": {"$lt": naive_utc(cutoff)}}
        return self._delete_or_count(self.rate_limits, query, "rate_limits.cleanup", dry_run)
