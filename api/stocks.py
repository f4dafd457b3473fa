"""GET /stocks (the universe: paginated, filtered, sorted) and GET /stocks/{ticker} (one stock's recent bars
and indicators)."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from api.deps import CalendarDep, StorageDep, read_access
from api.errors import error_responses, not_found
from lib.analysis.cross_section import measure_columns
from lib.analysis.indicators import INDICATOR_COLUMNS, PRICE_COLUMNS
from lib.storage.dates import from_stored

router = APIRouter(tags=["stocks"], dependencies=[Depends(read_access)])

# The columns of an analysis row a client can read or sort by: indicators and the cross-sectional measures.
ROW_COLUMNS = (*INDICATOR_COLUMNS, *sorted(measure_columns()))
class Board(StrEnum):
    """A KRX board, as `market=` takes it: written in any case (kospi, Kospi)."""

    KOSPI = "KOSPI"
    KOSDAQ = "KOSDAQ"

    @classmethod
    def _missing_(cls, value: object) -> Board | None:
        return cls.__members__.get(value.upper()) if isinstance(value, str) else None


SortKey = Literal[("market_cap", "name", "ticker", *PRICE_COLUMNS, *ROW_COLUMNS)]  # type: ignore[valid-type]
TICKER_PATTERN = r"^[0-9A-Za-z]{6}$"
BAR_FIELDS = ("open", "high", "low", "close", "volume", "value", "market_cap", "halted")


class StockItem(BaseModel):
    """One stock of the universe."""

    ticker: str
    name: str | None = None
    market: str | None = None
    market_cap: float | None = Field(None, description="KRW, as of `as_of_date`")
    is_active: bool = Field(description="in the universe now (market cap at or above the threshold)")
    as_of_date: str | None = Field(None, description="the trading day the market cap is from")
    last_analyzed_date: str | None = None
    sort_value: float | None = Field(None, description="the sort column's value on `sort_day` (indicator sorts)")


class StockPage(BaseModel):
    """A page of the universe."""

    total: int = Field(description="stocks matching the filters")
    limit: int
    offset: int
    sort: str
    order: Literal["asc", "desc"]
    sort_day: dt.date | None = Field(None, description="the analysed day whose values an indicator sort uses")
    items: list[StockItem]


class StockRow(BaseModel):
    """One trading day of a stock: the stored bar and that day's indicators (null when not computed)."""

    date: dt.date
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    volume: float | None = None
    value: float | None = Field(None, description="traded value, KRW")
    market_cap: float | None = None
    halted: bool = False
    indicators: dict[str, float | None] = Field(default_factory=dict)


class CorporateAction(BaseModel):
    """A split, reverse split or ex-rights day, found from KRX's base price in the stored bars."""

    date: dt.date = Field(description="the ex-date (KST)")
    factor: float = Field(description="base price / previous close: prices before `date` are multiplied by it in "
                                      "the adjusted series, volumes divided by it")
    kind: Literal["split", "reverse_split", "ex_rights"] | None = Field(
        None, description="from the listed shares; null when they do not tell")
    base_price: float = Field(description="KRX's base price on the ex-date, KRW")
    previous_close: float = Field(description="the close it was set from, KRW")
    shares_before: int | None = None
    shares_after: int | None = None


class StockDetail(BaseModel):
    """A stock with its recent history."""

    ticker: str
    name: str | None = None
    market: str | None = None
    market_cap: float | None = None
    is_active: bool
    as_of_date: str | None = None
    last_analyzed_date: str | None = Field(None, description="the KST day its indicators were last computed for")
    analysis_date: dt.date | None = Field(None, description="the newest day with indicator values")
    days: int
    rows: list[StockRow] = Field(description="the last `days` stored trading days, oldest first: prices as traded; "
                                             "indicators on the series back-adjusted by `corporate_actions`")
    corporate_actions: list[CorporateAction] = Field(
        default_factory=list, description="every corporate action in its stored history, oldest first")


def _item(doc: dict[str, Any], sort_value: float | None = None) -> StockItem:
    return StockItem(
        **{k: doc.get(k) for k in ("ticker", "name", "market", "market_cap", "as_of_date", "last_analyzed_date")},
        is_active=bool(doc.get("is_active")),
        sort_value=sort_value,
    )


@router.get("/stocks", response_model=StockPage, responses=error_responses(401, 422, 503))
def list_stocks(
    storage: StorageDep,
    limit: Annotated[int, Query(ge=1, le=500, description="stocks per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000, description="stocks to skip")] = 0,
    market: Annotated[Board | None, Query(description="only this market: KOSPI or KOSDAQ (any case)")] = None,
    min_market_cap: Annotated[float | None, Query(ge=0, le=1e16, description="KRW, at least")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=40, description="part of a name, or a code prefix")] = None,
    status: Annotated[Literal["active", "inactive", "all"], Query(description="universe membership")] = "active",
    sort: Annotated[SortKey, Query(description="market_cap, name, ticker, or any indicator column")] = "market_cap",
    order: Annotated[Literal["asc", "desc"] | None, Query(description="default: desc for numbers")] = None,
) -> StockPage:
    """The universe, filtered and sorted; an indicator sort uses each stock's value on the latest analysed day
    (stocks without one, e.g. halted that day, come last)."""
    query: dict[str, Any] = {}
    if status != "all":
        query["is_active"] = status == "active"
    if market:
        query["market"] = market.value
    if min_market_cap is not None:
        query["market_cap"] = {"$gte": min_market_cap}
    if q:
        text = re.escape(q.strip())
        query["$or"] = [{"name": {"$regex": text, "$options": "i"}}, {"ticker": {"$regex": f"^{text.upper()}"}}]
    direction = order or ("asc" if sort in ("name", "ticker") else "desc")
    sign = 1 if direction == "asc" else -1
    if sort in ("market_cap", "name", "ticker"):
        docs, total = storage.universe.find_tickers(query, [(sort, sign), ("ticker", 1)], offset, limit)
        items = [_item(d) for d in docs]
        return StockPage(total=total, limit=limit, offset=offset, sort=sort, order=direction, items=items)
    docs, total = storage.universe.find_tickers(query)
    day = storage.picks.latest_analysis_day()
    values = storage.picks.latest_values(sort, day) if day is not None else {}

    def rank(doc: dict[str, Any]) -> tuple[bool, float, str]:
        value = _finite(values.get(doc["ticker"]))
        return value is None, 0.0 if value is None else sign * value, doc["ticker"]

    ranked = sorted(docs, key=rank)
    page = ranked[offset : offset + limit]
    items = [_item(d, _finite(values.get(d["ticker"]))) for d in page]
    return StockPage(total=total, limit=limit, offset=offset, sort=sort, order=direction, sort_day=day, items=items)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if number == number else None


def _number(value: Any) -> float | None:
    return None if value is None else _finite(value)


@router.get("/stocks/{ticker}", response_model=StockDetail, responses=error_responses(401, 404, 422, 503))
def get_stock(
    storage: StorageDep,
    calendar: CalendarDep,
    ticker: Annotated[str, Path(pattern=TICKER_PATTERN, description="6-character KRX code, e.g. 005930")],
    days: Annotated[int, Query(ge=1, le=500, description="recent trading days to return")] = 30,
) -> StockDetail:
    """A stock's name, market, market cap, its last `days` bars with that day's indicators, and how far its
    analysis has got."""
    ticker = ticker.upper()
    doc = storage.universe.ticker_doc(ticker)
    if doc is None:
        universe = storage.universe.universe()
        known = [t["ticker"] for t in universe]
        similar = [t for t in known if t.startswith(ticker[:3])] or [t for t in known if t.startswith(ticker[:2])]
        # GET /stocks lists the active ones by default: say so, or a reader counts 182 rows against "all 207".
        active = sum(1 for t in universe if t.get("is_active"))
        hint = f"GET /stocks lists the {active} active, GET /stocks?status=all all {len(known)}"
        raise not_found("ticker", ticker, similar or known, hint)
    start = None
    if (latest := storage.picks.latest_analysis_day()) is not None:
        # A date range instead of sort-and-limit: the embedded store then copies only the rows it returns.
        start = calendar.last_sessions(latest, days + days // 2 + 10)[0]
    bars = storage.bars.recent_bars(ticker, days, start)
    analysis = {from_stored(r["date"]): r for r in storage.analysis.recent_analysis(ticker, days, start=start)}
    rows = []
    for bar in bars:
        day = from_stored(bar["date"])
        indicators = analysis.get(day, {})
        rows.append(
            StockRow(
                date=day,
                **{k: _number(bar.get(k)) for k in BAR_FIELDS if k != "halted"},
                halted=bool(bar.get("halted")),
                indicators={c: _number(indicators.get(c)) for c in ROW_COLUMNS} if indicators else {},
            )
        )
    return StockDetail(
        **{k: doc.get(k) for k in ("ticker", "name", "market", "market_cap", "as_of_date", "last_analyzed_date")},
        is_active=bool(doc.get("is_active")),
        analysis_date=max(analysis) if analysis else None,
        days=days,
        rows=rows,
        corporate_actions=[
            CorporateAction(**{**a, "date": from_stored(a["date"])})
            for a in storage.corporate_actions.corporate_actions(ticker)
        ],
    )
