"""The US stocks' bars sources on the spine's source interface: one request is a batch of tickers over a span of
sessions (yfinance's `yf.download` answers many tickers at once), the answer each ticker's raw daily bars with its
splits and dividends.

Prices are stored as traded (like KRX's, lib/markets/krx/bars.py), with each split kept as the day's base price so
the analysis derives the adjustment itself (lib/analysis/corporate_actions.py). Yahoo's `auto_adjust=False` prices
are not as traded, though: they are split-adjusted as of the download (NVDA's 2024-06-07 close comes back 120.89,
not the 1,208.88 it printed). `as_traded` undoes that with the splits of the same answer, so a window that spans a
split stores what was printed on each day; a one-session window (the daily run) is already as traded."""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lib.errors import BadDataError, EmptyAnswerError
from lib.markets.us.sources import SessionSpan, yahoo_symbol
from lib.spine.chain import Request, Source

STOCK_COLUMNS = ("date", "open", "high", "low", "close", "adj_close", "volume", "dividends", "splits")
PRICES = ("open", "high", "low", "close")
# yfinance's column names (its history frame) for ours.
YAHOO_COLUMNS = {
    "Open": "open", "High": "high", "Low": "low", "Close": "close", "Adj Close": "adj_close", "Volume": "volume",
    "Dividends": "dividends", "Stock Splits": "splits",
}


@dataclass(frozen=True)
class StocksRequest(Request):
    """A batch of tickers (`tickers`, Yahoo's form) over these sessions; `part` names the batch."""

    tickers: tuple[str, ...] = ()


@dataclass(frozen=True)
class StocksQuery(SessionSpan):
    """Daily bars of these tickers from the first session to the last (oldest first)."""

    tickers: tuple[str, ...]
    sessions: tuple[dt.date, ...]

    def __str__(self) -> str:
        return f"{len(self.tickers)} tickers ({self.tickers[0]}..{self.tickers[-1]}) {self.start}..{self.end}"


@dataclass
class StockBars:
    """A batch's answer: each ticker's bars (a frame of STOCK_COLUMNS, date order, dates as datetime.date), and
    the tickers asked for that got no bar in the span."""

    bars: dict[str, pd.DataFrame] = field(default_factory=dict)
    lacking: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """How many bars in all."""
        return sum(len(f) for f in self.bars.values())


def ticker_frames(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """`yf.download(..., group_by="ticker")`'s frame (columns a MultiIndex (Ticker, Price), the union of every
    ticker's dates as a tz-naive index, NaN where a ticker has no bar) as one frame per ticker in our columns,
    rows without a close dropped (the padding of the union index). Pure."""
    if frame is None or frame.empty:
        return {}
    if not isinstance(frame.columns, pd.MultiIndex) or frame.columns.nlevels != 2:
        raise BadDataError(f"expected columns (Ticker, Price), got {list(frame.columns)[:4]}")
    out: dict[str, pd.DataFrame] = {}
    for ticker in dict.fromkeys(frame.columns.get_level_values(0)):
        part = frame[ticker].rename(columns=YAHOO_COLUMNS)
        if "close" not in part.columns:
            raise BadDataError(f"{ticker}: the answer has no Close column ({list(part.columns)})")
        part = part.loc[part["close"].notna()]
        if part.empty:
            continue
        one = pd.DataFrame({name: part[name] if name in part.columns else np.nan for name in STOCK_COLUMNS[1:]})
        one.insert(0, "date", [pd.Timestamp(ts).date() for ts in part.index])
        for name in ("dividends", "splits"):
            one[name] = one[name].fillna(0.0)
        out[str(ticker)] = one.reset_index(drop=True)
    return out


def as_traded(frame: pd.DataFrame) -> pd.DataFrame:
    """A ticker's bars as printed: Yahoo's prices (and dividends) before each split in the frame multiplied by the
    split's ratio, volumes divided by it; the split's own day and later are already as traded. Pure."""
    ratios = frame["splits"].to_numpy(dtype=np.float64)
    if not (ratios > 0).any():
        return frame
    # The product of every split ratio strictly after each row.
    after = np.where(ratios > 0, ratios, 1.0)
    factor = np.concatenate([np.cumprod(after[::-1])[::-1][1:], [1.0]])
    out = frame.copy()
    for name in (*PRICES, "dividends"):
        out[name] = frame[name].to_numpy(dtype=np.float64) * factor
    out["volume"] = frame["volume"].to_numpy(dtype=np.float64) / factor
    return out


def check_answer(bars: dict[str, pd.DataFrame], query: StocksQuery, source: str) -> StockBars:
    """The rows within the span asked for (Yahoo may add a live row for a session still trading); EmptyAnswerError
    when no ticker of the batch has a bar in it."""
    out = StockBars()
    for ticker in query.tickers:
        frame = bars.get(ticker)
        if frame is not None:
            frame = frame.loc[(frame["date"] >= query.start) & (frame["date"] <= query.end) & frame["close"].notna()]
        if frame is None or frame.empty:
            out.lacking.append(ticker)
        else:
            out.bars[ticker] = frame.sort_values("date").reset_index(drop=True)
    if not out.bars:
        raise EmptyAnswerError(f"{source} {query}: no bar for any ticker of the batch")
    return out


class StocksSource(Source[StockBars]):
    """A source of the US stocks' daily bars for batches of tickers (a StocksRequest)."""

    name: ClassVar[str]

    def build_query(self, request: Request) -> StocksQuery:
        """The typed query for a batch (pure)."""
        if not isinstance(request, StocksRequest) or not request.tickers:
            raise ValueError(f"{request}: a US stocks request names its tickers")
        return StocksQuery(tuple(yahoo_symbol(t) for t in request.tickers), tuple(sorted(request.days)))

    @abstractmethod
    def fetch_raw(self, query: StocksQuery) -> Any:
        """Ask the outside world for the batch; the only I/O step."""

    @abstractmethod
    def normalise(self, raw: Any, query: StocksQuery) -> dict[str, pd.DataFrame]:
        """Each ticker's bars as traded, in STOCK_COLUMNS."""

    def validate(self, data: dict[str, pd.DataFrame], query: StocksQuery) -> StockBars:
        """The rows within the span; impossible bars are screened when stored (lib/markets/us/stocks/quarantine.py)."""
        return check_answer(data, query, self.name)
