"""system_info.rate_limits: per-key counters (model calls of POST /ai/analysis) shared by every API worker."""

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

    @staticmethod
    def _window(now: dt.datetime, window_seconds: int) -> tuple[dt.datetime, int, int, dt.datetime]:
        """(now as naive UTC, now in epoch seconds, the window's start in epoch seconds, its end)."""
        moment = naive_utc(now)
        epoch = int(moment.replace(tzinfo=dt.UTC).timestamp())
        start = epoch - epoch % window_seconds
        return moment, epoch, start, dt.datetime.fromtimestamp(start + window_seconds, dt.UTC).replace(tzinfo=None)

    def hit_rate_limit(self, bucket: str, now: dt.datetime, window_seconds: int) -> tuple[int, int]:
        """Count one request of `bucket` in the current window; returns (requests in this window including
        this one, seconds until the window ends). Atomic across processes: MongoDB's $inc on one document."""
        count, retry_after = self.reserve_rate_limit(bucket, now, window_seconds, 1, None)
        return int(count or 0), retry_after

    def reserve_rate_limit(
        self, bucket: str, now: dt.datetime, window_seconds: int, amount: int, limit: int | None
    ) -> tuple[int | None, int]:
        """Add `amount` to `bucket`'s count in the current window if the count stays within `limit` (None: no
        limit); returns (the count after, or None when refused and nothing was added; seconds until the window
        ends). Atomic across processes: one conditional $inc; over the limit the upsert meets the existing
        document and fails with a duplicate key, which is the refusal."""
        moment, epoch, start, ends = self._window(now, window_seconds)
        retry_after = max(1, start + window_seconds - epoch)
        if limit is not None and amount > limit:
            return None, retry_after
        query: dict = {"_id": f"{bucket}:{start}"}
        if limit is not None:
            query["count"] = {"$lte": limit - amount}
        update = {"$inc": {"count": amount}, "$setOnInsert": {"bucket": bucket, "expires_utc": ends}}
        doc = None
        for _ in range(2):  # two first requests racing on the upsert: one inserts, the other retries
            try:
                doc = self.rate_limits.find_one_and_update(
                    query, update, upsert=True, return_document=ReturnDocument.AFTER
                )
                break
            except DuplicateKeyError:
                continue
        if doc is None:  # the window's document exists with less than `amount` left
            return None, retry_after
        if doc["count"] == amount:
            self.rate_limits.delete_many({"bucket": bucket, "expires_utc": {"$lte": moment}})
        return int(doc["count"]), retry_after

    def release_rate_limit(self, bucket: str, now: dt.datetime, window_seconds: int, amount: int) -> None:
        """Give back `amount` reserved in the window of `now` and not used."""
        if amount > 0:
            _, _, start, _ = self._window(now, window_seconds)
            self.rate_limits.update_one({"_id": f"{bucket}:{start}"}, {"$inc": {"count": -amount}})

    def rate_limit_count(self, bucket: str, now: dt.datetime, window_seconds: int) -> int:
        """What `bucket` has used in the window of `now`."""
        _, _, start, _ = self._window(now, window_seconds)
        doc = self.rate_limits.find_one({"_id": f"{bucket}:{start}"}, {"count": 1})
        return int(doc["count"]) if doc else 0

    def delete_rate_limits_before(self, cutoff: dt.datetime, dry_run: bool = False) -> int:
        """Delete the counters of windows that ended before `cutoff` (or, with dry_run, count them); returns how
        many. The keys that stopped calling leave theirs behind: hit_rate_limit clears only the caller's."""
        query = {"expires_utc": {"$lt": naive_utc(cutoff)}}
        return self._delete_or_count(self.rate_limits, query, "rate_limits.cleanup", dry_run)
