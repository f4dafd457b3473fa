"""Replay: a local panel file (parquet or CSV) served through the source interface, for the demo, the tests
and for importing history a user already has."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from lib.errors import BadDataError, ConfigError, EmptyAnswerError, OutsideRangeError
from lib.log import KST
from lib.sources.base import COLUMNS, DailyMarketSource, Query

REQUIRED = ("date", "ticker", "open", "high", "low", "close", "volume", "market_cap", "market", "name")


def read_panel(path: Path) -> pd.DataFrame:
    """Load and check a panel file; tickers always as 6-character strings."""
    try:
        if path.suffix.lower() == ".parquet":
            panel = pd.read_parquet(path)
        elif path.suffix.lower() in (".csv", ".gz"):
            panel = pd.read_csv(path, dtype={"ticker": str, "date": str})
        else:
            raise ConfigError(f"KRX_REPLAY_PATH: {path.name} is neither .parquet nor .csv")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"KRX_REPLAY_PATH: cannot read {path}: {exc}") from None
    missing = [c for c in REQUIRED if c not in panel.columns]
    if missing:
        raise ConfigError(f"KRX_REPLAY_PATH: {path.name} lacks columns {missing}")
    panel = panel.copy()
    panel["ticker"] = panel["ticker"].astype(str).str.zfill(6)
    try:
        panel["date"] = pd.to_datetime(panel["date"]).dt.date
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"KRX_REPLAY_PATH: unreadable dates in {path.name}: {exc}") from None
    # No base_price column: the file is taken as already adjusted (no corporate action is derived from it).
    for optional in ("value", "shares", "base_price"):
        if optional not in panel.columns:
            panel[optional] = float("nan")
    return panel


class ReplaySource(DailyMarketSource):
    """Serves days from a panel; it knows its own date range."""

    name = "replay"

    def __init__(self, path: Path) -> None:
        self.path = path
        panel = read_panel(path)
        self._days = {day: frame for day, frame in panel.groupby("date", sort=True)}
        if not self._days:
            raise ConfigError(f"KRX_REPLAY_PATH: {path.name} has no rows")
        self.first, self.last = min(self._days), max(self._days)

    def available_at(self, day: dt.date) -> dt.datetime | None:
        """Everything in the file is available at once; nothing after its last session ever is."""
        if day > self.last:
            return None
        return dt.datetime.combine(day, dt.time(0, 0), tzinfo=KST)

    def first_day(self) -> dt.date:
        """The file's first session."""
        return self.first

    def fetch_raw(self, query: Query) -> Any:
        """The file's rows for the day (nothing leaves the process)."""
        if query.day < self.first:
            raise OutsideRangeError(f"{self.name}: {query.day} is before the file's first session {self.first}")
        frame = self._days.get(query.day)
        if frame is None:
            raise EmptyAnswerError(f"{self.name} {query.market} {query.day}: the file has no rows for this day")
        return frame

    def normalise(self, raw: Any, query: Query) -> pd.DataFrame:
        """Select the market and the schema's columns."""
        if not isinstance(raw, pd.DataFrame):
            raise BadDataError(f"{self.name}: expected a DataFrame, got {type(raw).__name__}")
        frame = raw.loc[raw["market"] == query.market]
        return frame.loc[:, list(COLUMNS)].reset_index(drop=True)
