"""The US sources on the spine's source interface (lib/spine/chain.py) and the validation of what they answer.

Three kinds of request, each a typed query: the daily bars of one ticker over a span of sessions, an ETF's top
holdings, a stock's profile (name, sector, shares, market cap). A source builds the query, fetches the raw
answer (the only step that leaves the process), normalises it (pure); validation is shared by every source and
splits an answer into accepted rows and rejected items (lib/spine/records.py: an `Answer` of `Bar`, `Holding` or
`Profile` rows, each `Rejected` with the raw value and the reason, kept in the bad-data store, never stored as
data)."""

from __future__ import annotations

import datetime as dt
import math
import re
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from lib.errors import BadDataError, EmptyAnswerError
from lib.spine.chain import Request, Source
from lib.spine.records import Answer, Bar, Holding, Profile, Rejected

# The answer type's former name, which the US stages (lib/markets/us/pipeline.py) import.
Validated = Answer
# The registry's datasets (market.kind) the US answers' rejected items belong to.
DATASET = {"bars": "us.bars", "holdings": "us.holdings", "profile": "us.profile"}

BAR_COLUMNS = ("date", "open", "high", "low", "close", "volume", "dividends", "splits")
HOLDING_COLUMNS = ("ticker", "name", "holding_percent")
TICKER_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=]{0,19}$")
# A share class written with a dot by fund issuers (BRK.B) is written with a dash by Yahoo (BRK-B); a dot
# followed by two or more letters is an exchange suffix (005930.KS) and stays.
SHARE_CLASS = re.compile(r"^([A-Z]+)\.([A-Z])$")
# Rounding in adjusted prices may put a close a hair outside the day's range; more than this is bad data.
RANGE_TOLERANCE = 1e-6


def yahoo_symbol(ticker: str) -> str:
    """The project's ticker form, Yahoo's: upper case, share classes with a dash (BRK.B -> BRK-B)."""
    ticker = ticker.strip().upper()
    return SHARE_CLASS.sub(r"\1-\2", ticker)


def is_foreign_listing(ticker: str) -> bool:
    """A Yahoo symbol with an exchange suffix (005930.KS) trades on its own exchange's calendar, not XNYS."""
    return "." in ticker


class SessionSpan:
    """What a query of a run of sessions (`sessions`, oldest first) says of its span."""

    sessions: tuple[dt.date, ...]

    @property
    def start(self) -> dt.date:
        """The first session asked for."""
        return self.sessions[0]

    @property
    def end(self) -> dt.date:
        """The last session asked for."""
        return self.sessions[-1]


@dataclass(frozen=True)
class BarsQuery(SessionSpan):
    """Daily bars of one ticker for these sessions (oldest first); the last one is the day being processed."""

    ticker: str
    sessions: tuple[dt.date, ...]


@dataclass(frozen=True)
class HoldingsQuery:
    """An ETF's holdings as known on a day."""

    etf: str
    day: dt.date


@dataclass(frozen=True)
class ProfileQuery:
    """A stock's name, sector, shares outstanding and market cap as known on a day."""

    ticker: str
    day: dt.date


Query = BarsQuery | HoldingsQuery | ProfileQuery


class UsSource(Source[Answer[Any]]):
    """A source of US daily bars, ETF holdings and stock profiles on the spine's interface: a Request of kind
    `bars` is one ticker over a span of sessions, `holdings` an ETF on its last day, `profile` a stock on its
    last day."""

    name: ClassVar[str]

    def build_query(self, request: Request) -> Query:
        """The typed query for a request (pure)."""
        symbol = yahoo_symbol(request.part)
        if request.kind == "bars":
            return BarsQuery(symbol, tuple(sorted(request.days)))
        if request.kind == "holdings":
            return HoldingsQuery(symbol, request.last)
        if request.kind == "profile":
            return ProfileQuery(symbol, request.last)
        raise ValueError(f"unknown request kind {request.kind!r}")

    def first_bar(self, ticker: str) -> dt.date | None:
        """The ticker's first bar, when the source is bounded and knows it (a file); None: unknown."""
        return None

    @abstractmethod
    def fetch_raw(self, query: Query) -> Any:
        """Ask the outside world; raise Transient/Blocked/BadData/Empty errors. The only I/O step."""

    @abstractmethod
    def normalise(self, raw: Any, query: Query) -> Any:
        """Bars: a frame of BAR_COLUMNS. Holdings: a frame of HOLDING_COLUMNS with attrs['as_of'] (a date or
        None). Profile: a dict with name, sector, shares_outstanding, market_cap, currency, quote_type."""

    def validate(self, data: Any, query: Query) -> Answer[Any]:
        """Accepted rows and rejected items (see validate_bars / validate_holdings / validate_profile)."""
        match query:
            case BarsQuery():
                return validate_bars(data, query, self.name, set(query.sessions))
            case HoldingsQuery():
                return validate_holdings(data, query, self.name)
            case ProfileQuery():
                return validate_profile(data, query, self.name)
        raise TypeError(f"unknown query {query!r}")


# --- validation --------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A raw cell as BSON can store it (numbers, text, None), for the rejected record."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        number = float(value)  # numpy scalars
    except (TypeError, ValueError):
        return str(value)
    return None if math.isnan(number) else number


def _number(value: Any, field_name: str) -> float | None:
    """A numeric cell; None when absent; BadDataError (the reason) when present but not a number."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if text in ("", "null", "None", "nan", "NaN"):
            return None
        try:
            number = float(text)
        except ValueError:
            raise BadDataError(f"{field_name} is not a number: {value!r}") from None
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise BadDataError(f"{field_name} is not a number: {value!r}") from None
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise BadDataError(f"{field_name} is infinite")
    return number


def _date(value: Any) -> dt.date:
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise BadDataError(f"date is not YYYY-MM-DD: {value!r}") from None


def _check_bar(record: dict[str, Any]) -> dict[str, Any]:
    """Typed bar fields, or BadDataError with the reason the row is refused."""
    bar = {name: _number(record.get(name), name) for name in BAR_COLUMNS if name != "date"}
    if bar["close"] is None:
        raise BadDataError("close missing")
    for name in ("open", "high", "low", "close"):
        if bar[name] is not None and bar[name] <= 0:
            raise BadDataError(f"{name} is not positive: {bar[name]}")
    if bar["volume"] is not None and bar["volume"] < 0:
        raise BadDataError(f"negative volume: {bar['volume']:.0f}")
    high, low = bar["high"], bar["low"]
    if high is not None and low is not None:
        if high < low:
            raise BadDataError(f"high {high} below low {low}")
        slack = high * RANGE_TOLERANCE
        for name in ("open", "close"):
            value = bar[name]
            if value is not None and not low - slack <= value <= high + slack:
                raise BadDataError(f"{name} {value} outside the day's range {low}..{high}")
    for name in ("dividends", "splits"):
        if bar[name] is not None and bar[name] < 0:
            raise BadDataError(f"negative {name}: {bar[name]}")
    if bar["volume"] is not None:
        bar["volume"] = int(round(bar["volume"]))
    return bar


def validate_bars(
    frame: pd.DataFrame, query: BarsQuery, source: str, xnys_sessions: set[dt.date]
) -> Answer[Bar]:
    """Accept the rows a bar needs (a session date and a positive close; open/high/low/volume may be absent, as
    in close-only histories), reject the rest with a reason; rows after the last session asked for are dropped.

    An answer with no row at all is an EmptyAnswerError; a foreign listing (005930.KS) is not held to XNYS
    sessions."""
    where = f"{source} {query.ticker} {query.start}..{query.end}"
    missing = [c for c in ("date", "close") if c not in frame.columns]
    if missing:
        raise BadDataError(f"{where}: answer lacks columns {missing}")
    if frame.empty:
        raise EmptyAnswerError(f"{where}: no rows")
    out: Answer[Bar] = Answer()
    seen: set[dt.date] = set()
    check_session = not is_foreign_listing(query.ticker)
    # A file-backed answer names its file and each row's line (attrs["file"], attrs["lines"]), for the rejections.
    file, lines = frame.attrs.get("file"), frame.attrs.get("lines")
    for i, record in enumerate(frame.to_dict("records")):
        raw = {k: _plain(v) for k, v in record.items()}
        line = f"{file} line {lines[i]}" if file and lines and i < len(lines) else None
        try:
            day = _date(record.get("date"))
        except BadDataError as exc:
            out.rejected.append(Rejected(DATASET["bars"], query.ticker, None, raw, str(exc), source, line))
            continue
        if day > query.end:
            out.after_end += 1
            continue
        if day < query.start:
            continue
        try:
            if check_session and day not in xnys_sessions:
                raise BadDataError(f"{day} is not a New York Stock Exchange (XNYS) trading day")
            if day in seen:
                raise BadDataError(f"{day} listed twice")
            bar = _check_bar(record)
        except BadDataError as exc:
            out.rejected.append(Rejected(DATASET["bars"], query.ticker, day.isoformat(), raw, str(exc), source, line))
            continue
        seen.add(day)
        out.rows.append(Bar(date=day, **bar))
    out.rows.sort(key=lambda r: r["date"])
    return out


def validate_holdings(frame: pd.DataFrame, query: HoldingsQuery, source: str) -> Answer[Holding]:
    """Accept holdings lines with a ticker and a weight between 0 and 100 percent; lines without a ticker
    (cash, futures) are not equities and are skipped; an answer whose weights add up to more than 100% is
    refused whole."""
    where = f"{source} {query.etf} holdings"
    missing = [c for c in HOLDING_COLUMNS if c not in frame.columns]
    if missing:
        raise BadDataError(f"{where}: answer lacks columns {missing}")
    if frame.empty:
        raise EmptyAnswerError(f"{where}: no holdings")
    out: Answer[Holding] = Answer(as_of=frame.attrs.get("as_of"))
    seen: set[str] = set()
    for record in frame.to_dict("records"):
        raw = {k: _plain(v) for k, v in record.items()}
        ticker = str(record.get("ticker") or "").strip()
        if ticker in ("", "-", "nan", "None"):
            continue
        ticker = yahoo_symbol(ticker)
        try:
            if not TICKER_PATTERN.match(ticker):
                raise BadDataError(f"malformed ticker {ticker!r}")
            if ticker in seen:
                raise BadDataError(f"{ticker} listed twice")
            percent = _number(record.get("holding_percent"), "holding_percent")
            if percent is None:
                raise BadDataError("holding_percent missing")
            if not 0 <= percent <= 100:
                raise BadDataError(f"holding_percent {percent} is not between 0 and 100")
        except BadDataError as exc:
            out.rejected.append(
                Rejected(DATASET["holdings"], query.etf, query.day.isoformat(), raw, str(exc), source)
            )
            continue
        seen.add(ticker)
        name = "" if record.get("name") is None else str(record["name"]).strip()
        out.rows.append(Holding(ticker=ticker, name=name, holding_percent=percent))
    total = sum(r["holding_percent"] for r in out.rows)
    if total > 100.5:
        raise BadDataError(f"{where}: weights add up to {total:.1f}%, more than the whole fund")
    if not out.rows:
        raise EmptyAnswerError(f"{where}: no equity holding in the answer")
    return out


def validate_profile(profile: dict[str, Any], query: ProfileQuery, source: str) -> Answer[Profile]:
    """Any profile field may be missing; a field present but unusable (a negative or non-numeric market cap)
    is dropped, and the profile is kept without it and recorded as rejected."""
    out: Answer[Profile] = Answer()
    clean: dict[str, Any] = {
        "name": (str(profile.get("name") or "").strip() or None),
        "sector": (str(profile.get("sector") or "").strip() or None),
        "currency": (str(profile.get("currency") or "").strip().upper() or None),
        "quote_type": (str(profile.get("quote_type") or "").strip().upper() or None),
    }
    for name in ("shares_outstanding", "market_cap"):
        try:
            value = _number(profile.get(name), name)
            if value is not None and value <= 0:
                raise BadDataError(f"{name} is not positive: {value}")
        except BadDataError as exc:
            raw = {k: _plain(v) for k, v in profile.items()}
            out.rejected.append(
                Rejected(DATASET["profile"], query.ticker, query.day.isoformat(), raw, str(exc), source)
            )
            value = None
        clean[name] = value
    out.rows.append(Profile(**clean))
    return out
