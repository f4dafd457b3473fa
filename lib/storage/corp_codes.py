"""datasets.corp_codes: a source's company ids mapped to stock codes (OpenDART's corp_code from CORPCODE.xml),
refreshed weekly by the collector that needs it. One document per listed company (`_id` = "<source>|<stock code>")
and one `refreshed` document per source saying when the map was last replaced."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import ReplaceOne

from lib.storage.client import StoreBase, naive_utc


class CorpCodesStore(StoreBase):
    """A source's stock code -> company id map, replaced whole on each refresh."""

    @property
    def corp_codes(self) -> Any:
        """The maps of every source (field `source` tells them apart)."""
        return self.datasets_db["corp_codes"]

    def refreshed_at(self, source: str) -> dt.datetime | None:
        """When the source's map was last replaced (naive UTC), None before its first refresh."""
        doc = self.corp_codes.find_one({"_id": f"{source}|refreshed"})
        return doc["at"] if doc else None

    def corp_map(self, source: str) -> dict[str, dict[str, Any]]:
        """The stored map: stock code -> {corp_code, name, eng_name, modify_date}."""
        return {doc["stock_code"]: {k: doc[k] for k in ("corp_code", "name", "eng_name", "modify_date")}
                for doc in self.corp_codes.find({"source": source, "stock_code": {"$exists": True}})}

    def replace_corp_map(self, source: str, rows: Iterable[Mapping[str, Any]], at: dt.datetime) -> int:
        """Store the map from `rows` (stock_code, corp_code, name, eng_name, modify_date), drop the codes it no
        longer has, then mark it refreshed (last, so a kill before the end refreshes again); returns its size."""
        docs = {row["stock_code"]: {"_id": f"{source}|{row['stock_code']}", "source": source, **row} for row in rows}
        self._write("corp_codes")
        if docs:
            self.corp_codes.bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs.values()],
                                       ordered=False)
        self.corp_codes.delete_many({"source": source, "stock_code": {"$exists": True, "$nin": list(docs)}})
        self._write("corp_codes.refreshed")
        self.corp_codes.replace_one({"_id": f"{source}|refreshed"},
                                    {"_id": f"{source}|refreshed", "source": source, "at": naive_utc(at),
                                     "count": len(docs)}, upsert=True)
        return len(docs)
