"""us_etf.collected_etf_holdings: an ETF's top holdings as collected on a day, one document per holding
(`_id` "ETF:YYYY-MM-DD:TICKER"). A day's snapshot is one unit (lib/storage/units.py): readers take it only once
every row of it is stored."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pymongo import DESCENDING

from lib.storage.client import StoreBase
from lib.storage.units import is_complete, with_unit, without_unit

HOLDINGS = "collected_etf_holdings"


class HoldingsStore(StoreBase):
    """ETF holdings snapshots; the base of EtfStore, whose insert-new/replace-changed write they use."""

    _sync_keyed: Callable[[str, Sequence[dict[str, Any]]], int]  # EtfStore's

    def save_holdings(self, etf: str, day: dt.date, rows: Sequence[dict[str, Any]], fields: Mapping[str, Any]) -> int:
        """Store an ETF's holdings collected on `day` (rank = position by weight) as one unit (lib/storage/units.py):
        readers see the snapshot only once every row of it is stored; rows an earlier, different answer for the
        same day left behind are removed after. Returns the documents written or removed."""
        docs = with_unit([
            {
                "_id": f"{etf}:{day.isoformat()}:{row['ticker']}",
                "etf_ticker": etf,
                "stock_ticker": row["ticker"],
                "stock_name": row["name"],
                "holding_percent": row["holding_percent"],
                "rank": rank,
                "collected_date": day.isoformat(),
                **fields,
            }
            for rank, row in enumerate(rows, start=1)
        ])
        return self._sync_keyed(HOLDINGS, docs) + self._drop_stale(HOLDINGS, [f"{etf}:{day.isoformat()}:"], docs)

    def _drop_stale(self, name: str, prefixes: Iterable[str], docs: Sequence[dict[str, Any]]) -> int:
        """Delete the documents whose `_id` starts with one of these unit prefixes but which `docs` (the units
        just written) do not hold: what an earlier, different answer left. Returns how many."""
        keep, units = {d["_id"] for d in docs}, tuple(sorted(set(prefixes)))
        if not units:
            return 0
        # One `_id` range read over every unit (a batch's days are adjacent), the units picked here.
        span = {"_id": {"$gte": units[0], "$lte": f"{units[-1]}~"}}
        stale = sorted(d["_id"] for d in self.etf_db[name].find(span, {"_id": 1})
                       if d["_id"].startswith(units) and d["_id"] not in keep)
        if stale:
            self._write(f"{name}.stale")
            self.etf_db[name].delete_many({"_id": {"$in": stale}})
        return len(stale)

    def holdings_history(self, etfs: Iterable[str]) -> dict[str, dict[str, list[dict]]]:
        """Every whole stored holdings snapshot of these ETFs: {etf: {collected_date: rows by rank}}; a snapshot
        a cut write left incomplete is not one."""
        out: dict[str, dict[str, list[dict]]] = {}
        for etf in sorted(set(etfs)):
            snapshots: dict[str, list[dict]] = {}
            for doc in self.etf_db[HOLDINGS].find({"_id": {"$gte": f"{etf}:", "$lte": f"{etf}:~"}}, {"_id": 0}):
                snapshots.setdefault(doc["collected_date"], []).append(doc)
            whole = {day: sorted(map(without_unit, rows), key=lambda r: r["rank"])
                     for day, rows in snapshots.items() if is_complete(rows)}
            if whole:
                out[etf] = whole
        return out

    def holdings_on(self, etf: str, day: dt.date) -> tuple[dt.date | None, list[dict]]:
        """The ETF's latest whole holdings snapshot collected on or before `day`, by rank."""
        cursor = self.etf_db[HOLDINGS].find(
            {"etf_ticker": etf, "collected_date": {"$lte": day.isoformat()}}, {"_id": 0}
        ).sort("collected_date", DESCENDING)
        # Newest snapshot first, read lazily: an incomplete one (a cut write) gives way to the one before.
        for collected, rows in itertools.groupby(cursor, key=lambda d: d["collected_date"]):
            snapshot = list(rows)
            if is_complete(snapshot):
                return dt.date.fromisoformat(collected), sorted(map(without_unit, snapshot), key=lambda r: r["rank"])
        return None, []
