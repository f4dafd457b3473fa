"""system_info.alerts: one record per alerted event (its dedupe key is the `_id`) with each channel's delivery."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from lib.storage.client import StoreBase, naive_utc

# A channel's delivery: pending (not tried yet), sending (claimed by a run), sent, failed (retried while
# attempts remain). A run that dies while sending leaves "sending": never retried, so never sent twice.
RETRYABLE = ("pending", "failed")


class AlertsStore(StoreBase):
    """Alert records: created once per event key, each channel claimed atomically before it is sent."""

    @property
    def alerts(self) -> Any:
        """The alert records collection."""
        return self.system["alerts"]

    def _alert_indexes(self) -> None:
        self.alerts.create_index([("created_utc", ASCENDING)])

    def known_alert_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of these event keys already have a record (alerted, or being alerted)."""
        wanted = list(keys)
        if not wanted:
            return set()
        return {doc["_id"] for doc in self.alerts.find({"_id": {"$in": wanted}}, {"_id": 1})}

    def open_alert(self, key: str, doc: Mapping[str, Any], channels: Iterable[str], now: dt.datetime) -> bool:
        """Record an event once; False when another run recorded it first (it then owns the sending)."""
        self._write(f"alerts.{key}")
        record = {
            "_id": key,
            **doc,
            "created_utc": naive_utc(now),
            "channels": {name: {"status": "pending", "attempts": 0} for name in channels},
        }
        try:
            self.alerts.insert_one(record)
        except DuplicateKeyError:
            return False
        return True

    def alerts_since(self, since: dt.datetime) -> list[dict[str, Any]]:
        """Alert records created at or after `since`, oldest first."""
        return list(self.alerts.find({"created_utc": {"$gte": naive_utc(since)}}).sort("created_utc", ASCENDING))

    def claim_channel(self, key: str, channel: str, now: dt.datetime, max_attempts: int) -> bool:
        """Take one delivery attempt of this alert on this channel; False when it is sent, being sent by
        another run, or out of attempts."""
        self._write(f"alerts.{key}.{channel}.claim")
        field = f"channels.{channel}"
        result = self.alerts.update_one(
            {"_id": key, f"{field}.status": {"$in": list(RETRYABLE)}, f"{field}.attempts": {"$lt": max_attempts}},
            {
                "$set": {f"{field}.status": "sending", f"{field}.at_utc": naive_utc(now)},
                "$inc": {f"{field}.attempts": 1},
            },
        )
        return result.modified_count == 1

    def finish_channel(self, key: str, channel: str, now: dt.datetime, error: str | None) -> None:
        """Record a delivery's outcome: sent, or failed with the reason."""
        self._write(f"alerts.{key}.{channel}.finish")
        field = f"channels.{channel}"
        status = "sent" if error is None else "failed"
        self.alerts.update_one(
            {"_id": key},
            {"$set": {f"{field}.status": status, f"{field}.at_utc": naive_utc(now), f"{field}.error": error}},
        )

    def recent_alerts(self, limit: int = 10) -> list[dict[str, Any]]:
        """The newest alert records, newest first."""
        return list(self.alerts.find().sort("created_utc", DESCENDING).limit(limit))

    def delete_alerts_before(self, cutoff: dt.datetime, dry_run: bool = False) -> int:
        """Delete alert records created before `cutoff` (or, with dry_run, count them); returns how many."""
        query = {"created_utc": {"$lt": naive_utc(cutoff)}}
        return self._delete_or_count(self.alerts, query, "alerts.cleanup", dry_run)
