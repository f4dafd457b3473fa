"""KRX's daily-market sources: the spine's source interface (lib/spine/chain.py) for one market's whole day
(one request per market per day), the normalised schema, and its validation."""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lib.errors import BadDataError, EmptyAnswerError
from lib.log import KST
from lib.spine.chain import Request, Source
from lib.spine.records import MarketDay

MARKETS = ("KOSPI", "KOSDAQ")
PRICE_COLUMNS = ("open", "high", "low", "close")
# The normalised schema of one market's day; value and shares may be missing (NaN) for some sources.
# base_price is KRX's base price of the day (the price the day's change and its +/-30% limit are measured
# from): the previous close, except on an ex-date or a listing day. NaN when the source does not say (an
# adjusted file): such bars are taken as already adjusted.
OPTIONAL_COLUMNS = ("base_price",)
COLUMNS = ("ticker", "name", "market", *PRICE_COLUMNS, "volume", "value", "market_cap", "shares", *OPTIONAL_COLUMNS)
TICKER_PATTERN = r"^[0-9A-Z]{6}$"


@dataclass(frozen=True)
class Query:
    """One request: a market's whole day."""

    day: dt.date
    market: str


class DailyMarketSource(Source[MarketDay]):
    """A source of whole-market daily bars for KOSPI or KOSDAQ: a request is one market on one KST session."""

    name: ClassVar[str]

    def build_query(self, request: Request) -> Query:
        """The query for one market on one KST trading day."""
        if request.part not in MARKETS:
            raise ValueError(f"unknown market {request.part!r}")
        if len(request.days) != 1:
            raise ValueError("a KRX request is one market on one day")
        return Query(request.days[0], request.part)

    def available_at(self, day: dt.date) -> dt.datetime | None:
        """When this source publishes the day (KST); None when it never will (past a replay file's end)."""
        return dt.datetime.combine(day, dt.time(18, 0), tzinfo=KST)

    @abstractmethod
    def fetch_raw(self, query: Query) -> Any:
        """Ask the outside world; raise Transient/Blocked/BadData/Empty errors. The only I/O step."""

    @abstractmethod
    def normalise(self, raw: Any, query: Query) -> pd.DataFrame:
        """Turn the raw answer into the COLUMNS schema (pure)."""

    def validate(self, data: pd.DataFrame, query: Query) -> MarketDay:
        """The market day checked by validate_market_day."""
        return validate_market_day(data, query, self.name)


def _rows(frame: pd.DataFrame, mask: pd.Series, column: str, label: str) -> str:
    """The first offending rows as 'TICKER (LABEL N: value)'."""
    bad = frame.loc[mask]
    cells = zip(bad["ticker"], bad["_line"], bad[column], strict=True)
    named = [f"{ticker} ({label} {line}: {value!r})" for ticker, line, value in cells]
    return ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")


def validate_market_day(
    frame: pd.DataFrame, query: Query, source: str, row_label: str | None = None
) -> MarketDay:
    """Check a normalised day; empty or holiday-shaped answers raise EmptyAnswerError, broken ones BadDataError
    naming the ticker and the row (`row_label` N, N being the frame's index; by default the row's position in
    the answer, from 1).

    Rows with no close price carry nothing to store and are dropped (counted in `dropped`); rows whose low/high
    do not bracket open/close are kept and listed in `inconsistent`."""
    where = f"{source} {query.market} {query.day}"
    frame = frame.assign(**{c: np.nan for c in OPTIONAL_COLUMNS if c not in frame.columns})
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise BadDataError(f"{where}: answer lacks columns {missing}")
    if frame.empty:
        raise EmptyAnswerError(f"{where}: no rows for a trading day")
    frame = frame.loc[:, list(COLUMNS)].copy()
    frame["_line"] = frame.index if row_label else np.arange(1, len(frame) + 1)
    frame = frame.reset_index(drop=True)
    label = row_label or "row"
    frame["ticker"] = frame["ticker"].astype(str)
    for column in (*PRICE_COLUMNS, "volume", "value", "market_cap", "shares", *OPTIONAL_COLUMNS):
        values = pd.to_numeric(frame[column], errors="coerce")
        unreadable = values.isna() & frame[column].notna()
        if unreadable.any():
            raise BadDataError(f"{where}: {column} is not a number for {_rows(frame, unreadable, column, label)}")
        frame[column] = values.astype("float64")
    if (frame["close"].fillna(0) == 0).all():
        raise EmptyAnswerError(f"{where}: every close is zero (the market did not trade)")
    bad_tickers = frame.loc[~frame["ticker"].str.match(TICKER_PATTERN), "ticker"]
    if len(bad_tickers):
        raise BadDataError(f"{where}: malformed tickers {bad_tickers.head(3).tolist()}")
    twice = frame["ticker"].duplicated(keep=False)
    if twice.any():
        # Name the rows of each repeated ticker: the reader must find both to keep the right one.
        groups = frame.loc[twice].groupby("ticker", sort=False)["_line"].apply(list)
        named = [f"{ticker} ({label} {' and '.join(map(str, lines))})" for ticker, lines in groups.head(3).items()]
        more = f" and {len(groups) - 3} more" if len(groups) > 3 else ""
        raise BadDataError(f"{where}: tickers listed twice: {', '.join(named)}{more}")
    for column in ("close", "volume"):
        if frame[column].isna().any():
            raise BadDataError(f"{where}: {column} missing for {_rows(frame, frame[column].isna(), column, label)}")
    for column in (*PRICE_COLUMNS, "volume"):
        negative = frame[column] < 0
        if negative.any():
            raise BadDataError(f"{where}: negative {column} for {_rows(frame, negative, column, label)}")

    frame["base_price"] = frame["base_price"].where(frame["base_price"] > 0)  # zero or negative: not known
    no_close = frame["close"] <= 0
    dropped = int(no_close.sum())
    frame = frame.loc[~no_close]
    # KRX reports a halted stock with open = high = low = 0 and the last close: a fact, not prices.
    halted = (frame["open"] == 0) & (frame["high"] == 0) & (frame["low"] == 0)
    traded = frame.loc[~halted]
    # Adjusted-price rounding leaves real rows with high a won below close and the like: such a row is
    # stored as the source sent it and counted, never a reason to reject the whole market day.
    inconsistent = traded.loc[
        (traded["low"] <= 0)
        | (traded["low"] > traded[["open", "close"]].min(axis=1))
        | (traded["high"] < traded[["open", "close"]].max(axis=1))
    ]
    frame["halted"] = halted.to_numpy()
    frame["market"] = query.market
    frame = frame.drop(columns="_line").reset_index(drop=True)
    return MarketDay(frame, source, query.market, query.day, dropped, tuple(inconsistent["ticker"].tolist()))


def number(value: Any) -> float:
    """KRX's number text ('1,234', '-', '') as a float; '-' and '' mean zero as KRX uses them."""
    if value is None:
        return np.nan
    if isinstance(value, int | float):
        return float(value)
    text = str(value).replace(",", "").strip()
    if text in ("", "-"):
        return 0.0
    return float(text)
