"""system_info.corporate_actions: the adjustment events derived from stored bars (lib/analysis/corporate_actions.py),
one document per ticker and ex-date, `_id` = "TICKER:YYYY-MM-DD". Rewritten for a ticker each time it is
analysed, so they are always the factors its stock_analyzed rows were computed with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import ASCENDING

from lib.storage.client import StoreBase


class CorporateActionsStore(StoreBase):
    """Splits, reverse splits and ex-rights days per ticker."""

    @property
    def actions(self) -> Any:
        """The corporate_actions collection."""
        return self.market_info["corporate_actions"]

    def _corporate_actions_indexes(self) -> None:
        self.actions.create_index([("ticker", ASCENDING), ("date", ASCENDING)])

    def replace_corporate_actions(self, ticker: str, actions: Iterable[Mapping[str, Any]]) -> int:
        """Make the ticker's stored actions exactly these; returns how many documents changed."""
        keyed = {f"{ticker}:{a['date']:%Y-%m-%d}": {**a, "ticker": ticker} for a in actions}
        existing = {doc["_id"]: doc for doc in self.actions.find({"ticker": ticker})}
        new = [{"_id": k, **v} for k, v in keyed.items() if k not in existing]
        changed = [{"_id": k, **v} for k, v in keyed.items() if k in existing and existing[k] != {"_id": k, **v}]
        stale = [k for k in existing if k not in keyed]
        if new or changed:
            self._write(f"corporate_actions.{ticker}")
            self._insert_or_replace(self.actions, new, changed)
        if stale:
            self._write(f"corporate_actions.{ticker}.stale")
            self.actions.delete_many({"_id": {"$in": stale}})
        return len(new) + len(changed) + len(stale)

    def corporate_actions(self, ticker: str) -> list[dict[str, Any]]:
        """A ticker's corporate actions, oldest first, each
        `{ticker, date, factor, kind, base_price, previous_close, previous_date, shares_before, shares_after}`
        (dates as midnight UTC of the KST day, like stock_data; kind is split, reverse_split, ex_rights or
        None when the listed shares do not tell)."""
        return list(self.actions.find({"ticker": ticker}, {"_id": 0}).sort("date", ASCENDING))
