"""us_etf's collected bars and facts: collected_daily_etf_ohlc, collected_daily_stock_history (keyed
"TICKER:YYYY-MM-DD"), collected_meta_etf, collected_meta_stock; and `pipeline_recompute`, the pipeline's own
memory of bars written for sessions whose derived rows were already computed (lib/markets/us/recompute.py),
kept until those rows are computed again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pymongo import ASCENDING, UpdateOne

from lib.storage.client import StoreBase, day_bounds
from lib.storage.dates import from_stored, to_utc_midnight

ETF_BARS = "collected_daily_etf_ohlc"
ETF_META = "collected_meta_etf"
STOCK_BARS = "collected_daily_stock_history"
STOCK_META = "collected_meta_stock"
RECOMPUTE = "pipeline_recompute"

# Called with every bar about to be stored next to the stored one it replaces (None: new) and each ticker's
# latest stored bar date, before anything is written.
BeforeWrite = Callable[[list[tuple[dict[str, Any], dict[str, Any] | None]], dict[str, dt.date]], None]


def bar_id(ticker: str, day: dt.date) -> str:
    """The key of a ticker's daily bar."""
    return f"{ticker}:{day.isoformat()}"


class EtfBarsStore(StoreBase):
    """ETF and stock bars, their static facts, and the marks of bars to compute again; a base of EtfStore."""

    _sync_keyed: Callable[[str, Sequence[dict[str, Any]]], int]  # EtfStore's

    def upsert_etf_bars(self, docs: Sequence[dict[str, Any]], before_write: BeforeWrite | None = None) -> int:
        """Store ETF bars (each with ticker and date); returns how many documents were written. `before_write`
        sees what is about to change before anything is written."""
        return self._sync_bars(ETF_BARS, docs, before_write)

    def upsert_stock_bars(self, docs: Sequence[dict[str, Any]], before_write: BeforeWrite | None = None) -> int:
        """Store stock bars (each with ticker and date); returns how many documents were written."""
        return self._sync_bars(STOCK_BARS, docs, before_write)

    def _sync_bars(self, name: str, docs: Sequence[dict[str, Any]], before_write: BeforeWrite | None) -> int:
        """Like _sync_keyed, reading each ticker's stored bars from its first date here to its last stored one
        (one `_id` range per ticker), so `before_write` also learns whether later bars are stored."""
        keyed = [{"_id": bar_id(d["ticker"], from_stored(d["date"])), **d} for d in docs]
        if not keyed:
            return 0
        coll = self.etf_db[name]
        firsts: dict[str, str] = {}
        for doc in keyed:
            firsts[doc["ticker"]] = min(firsts.get(doc["ticker"], doc["_id"]), doc["_id"])
        existing: dict[str, dict] = {}
        latest: dict[str, dt.date] = {}
        for ticker, first in firsts.items():
            for found in coll.find({"_id": {"$gte": first, "$lte": f"{ticker}:~"}}):
                existing[found["_id"]] = found
                day = from_stored(found["date"])
                latest[ticker] = max(latest.get(ticker, day), day)
        new = [d for d in keyed if d["_id"] not in existing]
        changed = [d for d in keyed if d["_id"] in existing and existing[d["_id"]] != d]
        if not new and not changed:
            return 0
        if before_write is not None:
            before_write([(d, existing.get(d["_id"])) for d in keyed], latest)
        self._write(name)
        self._insert_or_replace(coll, new, changed)
        return len(new) + len(changed)

    def _closes(
        self, name: str, tickers: Iterable[str], start: dt.date, end: dt.date
    ) -> dict[str, dict[dt.date, float]]:
        # One read of the date range, tickers picked here: the pipeline follows a few dozen tickers, and one
        # range read beats a per-ticker (or $in) query on both the server and the embedded store.
        wanted = set(tickers)
        out: dict[str, dict[dt.date, float]] = {t: {} for t in wanted}
        query = {"date": {"$gte": to_utc_midnight(start), "$lte": to_utc_midnight(end)}}
        for doc in self.etf_db[name].find(query, {"ticker": 1, "date": 1, "close": 1}):
            if doc["ticker"] in wanted:
                out[doc["ticker"]][from_stored(doc["date"])] = doc["close"]
        return out

    def etf_closes(self, tickers: Iterable[str], start: dt.date, end: dt.date) -> dict[str, dict[dt.date, float]]:
        """Stored ETF closes by ticker and date."""
        return self._closes(ETF_BARS, tickers, start, end)

    def stock_closes(self, tickers: Iterable[str], start: dt.date, end: dt.date) -> dict[str, dict[dt.date, float]]:
        """Stored stock closes by ticker and date."""
        return self._closes(STOCK_BARS, tickers, start, end)

    def etf_bars(self, ticker: str, start: dt.date | None = None, end: dt.date | None = None) -> list[dict]:
        """A ticker's stored ETF bars in date order."""
        return self._bars(ETF_BARS, ticker, start, end)

    def stock_bars(self, ticker: str, start: dt.date | None = None, end: dt.date | None = None) -> list[dict]:
        """A ticker's stored stock bars in date order."""
        return self._bars(STOCK_BARS, ticker, start, end)

    def _bars(self, name: str, ticker: str, start: dt.date | None, end: dt.date | None) -> list[dict]:
        query: dict[str, Any] = {"ticker": ticker}
        if bounds := day_bounds(start, end):
            query["date"] = bounds
        return list(self.etf_db[name].find(query, {"_id": 0}).sort("date", ASCENDING))

    def save_etf_meta(self, docs: Sequence[dict[str, Any]]) -> int:
        """Store the static ETF metadata (keyed by ticker)."""
        return self._sync_keyed(ETF_META, list(docs))

    def etf_meta(self) -> dict[str, dict]:
        """The ETF metadata by ticker."""
        return {d["_id"]: d for d in self.etf_db[ETF_META].find({})}

    def save_stock_profiles(self, docs: Mapping[str, Mapping[str, Any]]) -> int:
        """Store stocks' latest profiles ({ticker: name, sector, shares, market cap, as_of})."""
        return self._sync_keyed(STOCK_META, [{"_id": t, "ticker": t, **doc} for t, doc in sorted(docs.items())])

    def stock_profiles(self, tickers: Iterable[str]) -> dict[str, dict]:
        """The stored profiles of these tickers."""
        return {d["_id"]: d for d in self.etf_db[STOCK_META].find({"_id": {"$in": sorted(set(tickers))}})}

    # --- derived rows to compute again --------------------------------------------------------------

    def mark_recompute(self, marks: Iterable[tuple[str, str, dt.date, str]]) -> None:
        """Remember bars written for sessions whose derived rows were already computed: (kind "etf"/"stock",
        ticker, date, why), one document each, until clear_recompute."""
        ops = [
            UpdateOne({"_id": f"{kind}:{ticker}:{day.isoformat()}"},
                      {"$set": {"kind": kind, "ticker": ticker, "date": day.isoformat(), "why": why}}, upsert=True)
            for kind, ticker, day, why in marks
        ]
        if ops:
            self._write(RECOMPUTE)
            self.etf_db[RECOMPUTE].bulk_write(ops, ordered=False)

    def recompute_pending(self) -> list[dict]:
        """The bars whose dependants are still to be computed again, oldest first."""
        return sorted(self.etf_db[RECOMPUTE].find({}), key=lambda d: (d["date"], d["_id"]))

    def clear_recompute(self, ids: Iterable[str]) -> None:
        """Forget these marks (their dependants are computed again); marks added meanwhile stay."""
        ids = sorted(set(ids))
        if ids:
            self._write(f"{RECOMPUTE}.clear")
            self.etf_db[RECOMPUTE].delete_many({"_id": {"$in": ids}})
