"""The analysed history of every ticker at once, for a custom screen: read from the column-wise copies the
analysis job stores (one query), or built from every ticker's rows; and a frame as those copies store it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from lib.analysis.indicators import as_frame
from lib.storage import Storage


def analysis_history(storage: Storage, day: dt.date) -> list[pd.DataFrame]:
    """What analysis_frames yields, built at once: every ticker's rows read (one indexed read per ticker) into
    one frame converted in one pass, then split by ticker (tickers in order, each oldest first). Several times
    faster than a frame per ticker; holds the whole history in memory (rows x columns x 8 bytes)."""
    docs: list[dict[str, Any]] = []
    for ticker in storage.analysis.analysed_tickers():
        rows = storage.analysis.read_analysis(ticker, end=day)
        for row in rows:
            row["ticker"] = ticker
        docs += rows
    whole = as_frame(docs)
    if whole.empty:
        return []
    whole = whole.loc[whole["date"] <= pd.Timestamp(day)].sort_values(["ticker", "date"], kind="stable")
    return [frame.reset_index(drop=True) for _, frame in whole.groupby("ticker", sort=True)]


def stored_history(storage: Storage, day: dt.date, columns: Iterable[str] | None = None) -> list[pd.DataFrame] | None:
    """analysis_history's frames (only `columns` besides date and ticker) from the column-wise copies the
    analysis job stores: one query for the universe. None when the copies are not complete through the latest
    analysed day (never written, or a day's analysis under way): read the rows then."""
    through = storage.columns.analysis_columns_through()
    if through is None or through != storage.picks.latest_analysis_day() or day > through:
        return None
    stamp = np.datetime64(pd.Timestamp(day).to_datetime64(), "ns")
    frames = []
    for ticker, dates, values in storage.columns.read_ticker_columns(columns):
        keep = dates <= stamp
        if keep.any():
            frame = pd.DataFrame({"date": dates[keep], **{name: v[keep] for name, v in values.items()}})
            frames.append(frame.assign(ticker=ticker))
    return frames


def column_arrays(frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A ticker's frame as stored column-wise: its dates and every numeric column as float64."""
    numeric = [c for c in frame.columns if c not in ("date", "ticker")]
    return pd.to_datetime(frame["date"]).to_numpy(), {c: frame[c].to_numpy(dtype=np.float64) for c in numeric}
