"""Replay: a local panel file (parquet or CSV) served through the source interface, for the demo, the tests
and for importing history a user already has. A local file is read at full speed (no pacing, no blocked
rules). Each market's range is its own: a market the file does not hold, or a day outside that market's first
and last session in the file, is outside the source's range; a session inside it without rows is an empty
answer (the file lacks that day). Rows keep their line in the file, so a bad value is reported by line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from lib.errors import BadDataError, ConfigError, EmptyAnswerError, OutsideRangeError
from lib.log import KST
from lib.markets.krx.source_base import COLUMNS, DailyMarketSource, Query, validate_market_day
from lib.spine.chain import FileSpan
from lib.spine.records import MarketDay

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
    # The line of each row in the file (after a CSV's header line), for messages about bad values.
    parquet = path.suffix.lower() == ".parquet"
    panel.index = pd.RangeIndex(1, len(panel) + 1) if parquet else pd.RangeIndex(2, len(panel) + 2)
    panel["ticker"] = panel["ticker"].astype(str).str.zfill(6)
    panel["date"] = _dates(panel["date"], f"{path.name} {'row' if parquet else 'line'}")
    # No base_price column: the file is taken as already adjusted (no corporate action is derived from it).
    for optional in ("value", "shares", "base_price"):
        if optional not in panel.columns:
            panel[optional] = float("nan")
    return panel


def _dates(column: pd.Series, where: str) -> pd.Series:
    """The date column as dates; a value that is not YYYY-MM-DD is one ConfigError naming its line (`where`)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.date
    text = column.astype("string")  # datetime.date values (a parquet date column) become YYYY-MM-DD
    iso = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False).astype(bool)
    parsed = pd.to_datetime(text.where(iso), format="%Y-%m-%d", errors="coerce")  # 2025-02-30 too
    bad = parsed.isna()
    if bad.any():
        line = bad.idxmax()
        value = column.loc[line]
        more = f" ({int(bad.sum())} such rows in all)" if bad.sum() > 1 else ""
        problem = ("the date is blank: fill it in as YYYY-MM-DD (e.g. 2025-05-16) or delete the row"
                   if pd.isna(value) or not str(value).strip()
                   else f"date {str(value)[:40]!r} is not a date in the form YYYY-MM-DD (e.g. 2025-05-16)")
        raise ConfigError(f"KRX_REPLAY_PATH: {where} {line}: {problem}; correct the file{more}")
    return parsed.dt.date


class ReplaySource(FileSpan, DailyMarketSource):
    """Serves days from a panel; it knows each market's range in the file."""

    name = "replay"
    network = False
    tz = KST  # FileSpan: the files' sessions are there from midnight in the exchange's zone

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise ConfigError(f"KRX_REPLAY_PATH: no file at {path}; fix the path in .env")
        panel = read_panel(path)
        if panel.empty:
            raise ConfigError(f"KRX_REPLAY_PATH: {path.name} has no rows")
        self._days = {day: frame for day, frame in panel.groupby("date", sort=True)}
        self.ranges = {
            str(market): (min(frame["date"]), max(frame["date"])) for market, frame in panel.groupby("market")
        }
        self.first, self.last = min(self._days), max(self._days)


    def fetch_raw(self, query: Query) -> Any:
        """The file's rows for the day (nothing leaves the process)."""
        where = f"{self.name} {query.market} {query.day}"
        span = self.ranges.get(query.market)
        if span is None:
            raise OutsideRangeError(f"{where}: {self.path.name} holds no {query.market} rows")
        if not span[0] <= query.day <= span[1]:
            raise OutsideRangeError(
                f"{where}: outside {self.path.name}'s {query.market} sessions {span[0]}..{span[1]}"
            )
        frame = self._days.get(query.day)
        if frame is None or not (frame["market"] == query.market).any():
            raise EmptyAnswerError(f"{where}: {self.path.name} has no {query.market} rows for this session")
        return frame

    def normalise(self, raw: Any, query: Query) -> pd.DataFrame:
        """Select the market and the schema's columns; rows keep their line in the file."""
        if not isinstance(raw, pd.DataFrame):
            raise BadDataError(f"{self.name}: expected a DataFrame, got {type(raw).__name__}")
        frame = raw.loc[raw["market"] == query.market]
        return frame.loc[:, list(COLUMNS)]

    def validate(self, data: pd.DataFrame, query: Query) -> MarketDay:
        """validate_market_day, with rows named by their line in the file."""
        return validate_market_day(data, query, self.name, row_label=f"{self.path.name} line")
