"""system_info.analysis_columns: every ticker's analysed rows column by column (one document per ticker, each
column a packed float64 array), written by the analysis job once a day's analysis completes, so that a custom
screen reads the columns it needs for the whole universe in one query instead of every row of every ticker."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from bson.binary import Binary

from lib.storage.client import StoreBase

ANALYSIS_COLUMNS = "analysis_columns"
_STATE = "analysis_columns"  # system_info.analysis_state: the day the columns are complete through


class ColumnsStore(StoreBase):
    """Column-wise copies of the indicator rows (a projection of stock_analyzed, rebuilt from it)."""

    @property
    def analysis_columns(self):  # noqa: ANN201 - a pymongo collection
        """The column-wise copies, `_id` the ticker."""
        return self.market_info[ANALYSIS_COLUMNS]

    def save_ticker_columns(self, ticker: str, dates: np.ndarray, columns: Mapping[str, np.ndarray]) -> None:
        """Replace one ticker's columns: `dates` datetime64 (oldest first), each column float64 of that length."""
        self._write(f"analysis_columns.{ticker}")
        doc = {
            "_id": ticker,
            "dates": Binary(np.asarray(dates, dtype="datetime64[ns]").astype(np.int64).tobytes()),
            "columns": {name: Binary(np.asarray(v, dtype=np.float64).tobytes()) for name, v in columns.items()},
        }
        self.analysis_columns.replace_one({"_id": ticker}, doc, upsert=True)

    def finish_analysis_columns(self, through: dt.date, tickers: Iterable[str]) -> None:
        """Mark the columns complete through `through`, and drop those of tickers no longer analysed."""
        self._write("analysis_columns.state")
        self.analysis_columns.delete_many({"_id": {"$nin": list(tickers)}})
        self.market_info["analysis_state"].replace_one(
            {"_id": _STATE}, {"_id": _STATE, "through": through.isoformat()}, upsert=True
        )

    def analysis_columns_through(self) -> dt.date | None:
        """The day the stored columns are complete through (None: never written)."""
        doc = self.market_info["analysis_state"].find_one({"_id": _STATE})
        return dt.date.fromisoformat(doc["through"]) if doc else None

    def read_ticker_columns(
        self, columns: Iterable[str] | None = None
    ) -> list[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
        """(ticker, dates as datetime64[ns], {column: float64 array}) of every ticker, tickers in order; only
        `columns` (default: all). One query."""
        projection: dict[str, Any] = {"dates": 1}
        if columns is None:
            projection["columns"] = 1
        else:
            projection |= {f"columns.{name}": 1 for name in columns}
        out = []
        for doc in self.analysis_columns.find({}, projection).sort("_id", 1):
            dates = np.frombuffer(doc["dates"], dtype=np.int64).astype("datetime64[ns]")
            values = {name: np.frombuffer(raw, dtype=np.float64) for name, raw in doc.get("columns", {}).items()}
            out.append((doc["_id"], dates, values))
        return out
