"""The US stocks' bars from a folder (US_STOCKS_REPLAY_DIR, e.g. data/sample/us_stocks), for the demo, the tests and
a user's own files: `bars/<TICKER>.csv` with date,open,high,low,close,volume[,dividends,splits], one
file per ticker (BRK.B or BRK-B), as traded; a file without a splits column has no split."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from lib.errors import BadDataError, ConfigError, OutsideRangeError
from lib.markets.us.sources import yahoo_symbol
from lib.markets.us.stocks.sources import STOCK_COLUMNS, StocksQuery, StocksSource
from lib.spine.chain import FileSpan

NEW_YORK = ZoneInfo("America/New_York")
BARS = "bars"


class StocksReplaySource(FileSpan, StocksSource):
    """Serves batches of tickers from CSV files; a session is there as soon as it is in the files."""

    name = "replay"
    network = False
    tz = NEW_YORK  # FileSpan: the files' sessions are there from midnight in the exchange's zone

    def __init__(self, root: Path) -> None:
        self.root = root
        folder = root / BARS
        if not folder.is_dir():
            raise ConfigError(f"US_STOCKS_REPLAY_DIR: {root} has no {BARS}/ folder of <TICKER>.csv files; fix the "
                              "path in .env (e.g. data/sample/us_stocks)")
        self.files = {yahoo_symbol(p.stem): p for p in sorted(folder.glob("*.csv"))}
        if not self.files:
            raise ConfigError(f"US_STOCKS_REPLAY_DIR: {folder} holds no <TICKER>.csv file")
        spans = [self._span(t) for t in self.files]
        self.first, self.last = min(s[0] for s in spans), max(s[1] for s in spans)

    def _span(self, ticker: str) -> tuple[dt.date, dt.date]:
        dates = self._frame(ticker)["date"]
        if dates.empty:
            raise ConfigError(f"US_STOCKS_REPLAY_DIR: {self.files[ticker]} has no row with a YYYY-MM-DD date")
        return dates.iloc[0], dates.iloc[-1]

    @cache  # noqa: B019 - one instance per run; the files do not change while it runs
    def _frame(self, ticker: str) -> pd.DataFrame:
        path = self.files[ticker]
        try:
            raw = pd.read_csv(path, dtype={"date": str})
        except (OSError, ValueError) as exc:
            raise ConfigError(f"US_STOCKS_REPLAY_DIR: cannot read {path}: {exc}") from None
        if not {"date", "close"} <= set(raw.columns):
            raise ConfigError(f"US_STOCKS_REPLAY_DIR: {path} needs at least the columns date,close")
        dates = pd.to_datetime(raw["date"].str.strip().str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
        if dates.isna().any():
            line = int(np.flatnonzero(dates.isna().to_numpy())[0]) + 2  # the header is line 1
            raise ConfigError(f"US_STOCKS_REPLAY_DIR: {path} line {line}: date {raw['date'].iloc[line - 2]!r} is not "
                              "YYYY-MM-DD")
        # A cell that is not a number reads as missing: a bar without its close is no bar (dropped when served).
        columns = {name: pd.to_numeric(raw[name], errors="coerce").to_numpy(dtype=np.float64)
                   if name in raw.columns else np.full(len(raw), np.nan) for name in STOCK_COLUMNS[1:]}
        out = pd.DataFrame({"date": dates.dt.date.to_numpy(), **columns})
        out[["dividends", "splits"]] = out[["dividends", "splits"]].fillna(0.0)
        return out.sort_values("date").reset_index(drop=True)


    def fetch_raw(self, query: StocksQuery) -> Any:
        """The files' rows of the batch's tickers over the span (nothing leaves the process)."""
        if query.end < self.first:
            raise OutsideRangeError(f"{self.name}: {query.end} is before the files' first session {self.first}")
        out: dict[str, pd.DataFrame] = {}
        for ticker in query.tickers:
            if ticker not in self.files:
                continue  # no file: the ticker has no bar here (StockBars.lacking)
            frame = self._frame(ticker)
            out[ticker] = frame.loc[(frame["date"] >= query.start) & (frame["date"] <= query.end)]
        return out

    def normalise(self, raw: Any, query: StocksQuery) -> dict[str, pd.DataFrame]:
        """The files hold bars as traded already."""
        if not isinstance(raw, dict):
            raise BadDataError(f"{self.name}: expected frames by ticker, got {type(raw).__name__}")
        return raw
