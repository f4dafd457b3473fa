"""The typed answers a source delivers, one model per kind (OpenBB's standard models): whatever source served
it, an answer of a kind has the same shape, and what validation refused travels with it as `Rejected` items.

- `Answer[T]`: the accepted rows of a kind (`Bar`, `Holding`, `Profile`), the items refused (`Rejected`, with
  the raw value and the reason) and notes; what the US sources deliver.
- `MarketDay`: one market's whole session (KRX's KOSPI or KOSDAQ day): the validated rows stay a DataFrame
  inside the typed object, because every step after validation (the price-limit screen, the bar documents, the
  universe refresh) works on the whole day's columns at once (~2,800 rows a day, 19 years of history on a
  first load); the facts validation found (rows dropped, rows kept as sent) are typed fields, not frame attrs.

Rows are TypedDicts: typed for the reader and the checker, plain dicts at run time, so the documents built
from them (and stored) are exactly what they were."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, TypedDict

import pandas as pd


@dataclass(frozen=True)
class Rejected:
    """An item validation refused: the dataset (`market.kind`), the item's key, the session it is for, the raw
    value as it came, why it was refused, the source, and where in a file it came from."""

    dataset: str  # "us.bars", "krx.bars": the registry's `market.kind`
    key: str  # the item's natural key within the dataset: a ticker
    day: str | None  # the session (YYYY-MM-DD) it is for; None when it could not be read
    raw: dict[str, Any]  # BSON-storable cells as the source sent them
    reason: str
    source: str = ""
    where: str | None = None  # "us_etf/XLF.csv line 207" when a file served it

    # The names the US stages read (lib/markets/us/pipeline.py): the kind, the ticker and the date.
    @property
    def kind(self) -> str:
        """The dataset's kind (bars, holdings, profile)."""
        return self.dataset.partition(".")[2]

    @property
    def ticker(self) -> str:
        """The key, which is a ticker for every dataset so far."""
        return self.key

    @property
    def date(self) -> str | None:
        """The session, as YYYY-MM-DD."""
        return self.day


@dataclass
class Answer[T]:
    """A validated answer: the accepted rows of one kind and the items refused. `after_end` counts rows past the
    last session asked for (Yahoo's live row for a session still trading), never stored; `as_of` is the date
    the source says the answer is as of (holdings), when it says."""

    rows: list[T] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    after_end: int = 0
    as_of: dt.date | None = None


class Bar(TypedDict):
    """One daily bar; open/high/low/volume may be absent (close-only histories), dividends and splits are the
    corporate actions of the day when the source sends them."""

    date: dt.date
    open: float | None
    high: float | None
    low: float | None
    close: float
    volume: int | None
    dividends: float | None
    splits: float | None


class Holding(TypedDict):
    """One line of a fund's holdings: the stock and its weight in percent."""

    ticker: str
    name: str
    holding_percent: float


class Profile(TypedDict):
    """A stock's profile; any field may be unknown."""

    name: str | None
    sector: str | None
    currency: str | None
    quote_type: str | None
    shares_outstanding: float | None
    market_cap: float | None


@dataclass(frozen=True)
class MarketDay:
    """One market's validated session: one row per listed issue (ticker, name, market, open, high, low, close,
    volume, value, market_cap, shares, base_price, halted), rows without a close `dropped`, and the tickers whose
    low/high do not bracket open/close but are kept as sent (`inconsistent`)."""

    frame: pd.DataFrame
    source: str
    market: str
    day: dt.date
    dropped: int = 0
    inconsistent: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.frame)

    def with_frame(self, frame: pd.DataFrame) -> MarketDay:
        """The same answer with some rows taken out (held back by a check)."""
        return dataclasses.replace(self, frame=frame)
