"""GET /stocks (a market's universe: paginated, filtered, sorted) and GET /stocks/{ticker} (one stock's recent bars
and indicators, found in whichever market's universe holds it). Every answer says its market and currency."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from api.deps import NowDep, StorageDep, read_access
from api.errors import ApiError, error_responses, not_found
from api.markets import LISTED, MarketScope, market_scope, screened_markets
from api.stock_detail import Fundamentals, OptionsSnapshot, fundamentals, options
from api.types import IsoDate
from lib.analysis.cross_section import measure_columns
from lib.analysis.indicators import INDICATOR_COLUMNS, PRICE_COLUMNS
from lib.context.read import moment_of
from lib.storage.dates import from_stored
from lib.storage.universe import listed_on

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
TICKER_PATTERN = r"^[0-9A-Za-z]{6}$"  # a KRX code (005930, 00088K)
# a KRX code, or a US symbol in Yahoo's form (AAPL, BRK-B): letters first, a class suffix after a dash or dot
STOCK_PATTERN = r"^(?:[0-9A-Za-z]{6}|[A-Za-z][A-Za-z0-9]{0,5}(?:[.\-][A-Za-z0-9]{1,2})?)$"
EARLIEST = dt.date(1990, 1, 1)  # no source here reaches further back; earlier dates are a typo

def check_days(**days: dt.date | None) -> None:
    """422 for a date parameter before EARLIEST (a typo; it would also overflow the windows counted back)."""
    for name, value in days.items():
        if value is not None and value < EARLIEST:
            raise ApiError(422, f"{name}: {value} is before {EARLIEST}; give a date from {EARLIEST} on",
                           [{"loc": ["query", name], "msg": f"before {EARLIEST}", "type": "date_range"}])

BAR_FIELDS = ("open", "high", "low", "close", "volume", "value", "market_cap", "halted")


class StockItem(BaseModel):
    """One stock of the universe."""

    ticker: str
    name: str | None = None
    market: str | None = Field(None, description=LISTED)
    market_cap: float | None = Field(None, description="in the page's currency, as of `as_of_date`")
    is_active: bool = Field(description="in the universe now (market cap at or above the threshold)")
    as_of_date: str | None = Field(None, description="the trading day the market cap is from")
    last_analyzed_date: str | None = None
    sort_value: float | None = Field(None, description="the sort column's value on `sort_day` (indicator sorts)")


class StockPage(BaseModel):
    """A page of a market's universe."""

    market: str = Field("krx", description="the market listed (`market=`): krx, us")
    currency: str | None = Field(None, description="the currency of its market caps and prices: KRW, USD")
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
    value: float | None = Field(None, description="traded value, in the stock's currency")
    market_cap: float | None = None
    halted: bool = False
    indicators: dict[str, float | None] = Field(default_factory=dict)


class CorporateAction(BaseModel):
    """A split, reverse split or ex-rights day, found from the exchange's base price in the stored bars."""

    date: dt.date = Field(description="the ex-date (KST)")
    factor: float = Field(description="base price / previous close: prices before `date` are multiplied by it in "
                                      "the adjusted series, volumes divided by it")
    kind: Literal["split", "reverse_split", "ex_rights"] | None = Field(
        None, description="from the listed shares; null when they do not tell")
    base_price: float = Field(description="the exchange's base price on the ex-date, in the stock's currency")
    previous_close: float = Field(description="the close it was set from, in the stock's currency")
    shares_before: int | None = None
    shares_after: int | None = None


class StockDetail(BaseModel):
    """A stock with its recent history."""

    ticker: str
    name: str | None = None
    market: str | None = Field(None, description=LISTED)
    market_id: str = Field("krx", description="the market whose universe holds it, as `market=` of /stocks and "
                                              "/screener takes it: krx, us")
    currency: str | None = Field(None, description="the currency of its prices and market cap: KRW, USD")
    market_cap: float | None = None
    is_active: bool
    as_of_date: str | None = None
    last_analyzed_date: str | None = Field(None, description="the trading day (its market's) its indicators were "
                                                              "last computed for")
    analysis_date: dt.date | None = Field(None, description="the newest day with indicator values")
    days: int
    rows: list[StockRow] = Field(description="the last `days` stored trading days, oldest first: prices as traded; "
                                             "indicators on the series back-adjusted by `corporate_actions`")
    corporate_actions: list[CorporateAction] = Field(
        default_factory=list, description="every corporate action in its stored history, oldest first")
    fundamentals: Fundamentals | None = Field(None, description="profile, latest quarter and TTM known at the "
                                                                "cutoff; null for a market without statements "
                                                                "(KRX) or when nothing is known")
    options: OptionsSnapshot | None = Field(None, description="the latest options summary known at the cutoff; "
                                                              "null when none is known")


_DOC_FIELDS = ("ticker", "name", "market_cap", "as_of_date", "last_analyzed_date")


def _item(doc: dict[str, Any], sort_value: float | None = None) -> StockItem:
    return StockItem(
        **{k: doc.get(k) for k in _DOC_FIELDS},
        market=listed_on(doc),
        is_active=bool(doc.get("is_active")),
        sort_value=sort_value,
    )


def _page_market(request: Request, storage: Any, market: str | None) -> tuple[MarketScope, Board | None]:
    """`market=` of /stocks: a market (krx, us), or a KRX board (KOSPI, KOSDAQ), which is KRX's stocks on it."""
    board = Board.__members__.get(market.strip().upper()) if market else None
    try:
        return market_scope(request, storage, "krx" if board is not None else market), board
    except ApiError as exc:
        if exc.status != 422:
            raise
        raise ApiError(422, f"{exc.message}, or a KRX board: KOSPI, KOSDAQ", exc.details) from None


@router.get("/stocks", response_model=StockPage, responses=error_responses(401, 422, 503))
def list_stocks(
    request: Request,
    storage: StorageDep,
    limit: Annotated[int, Query(ge=1, le=500, description="stocks per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000, description="stocks to skip")] = 0,
    market: Annotated[str | None, Query(
        min_length=1, max_length=20,
        description="the market (krx, us: GET /markets lists them; default krx), or a KRX board: KOSPI or KOSDAQ "
                    "(any case), which lists KRX's stocks on it",
    )] = None,
    min_market_cap: Annotated[float | None, Query(ge=0, le=1e16, description="in the market's currency, at least")
                              ] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=40, description="part of a name, or a code prefix")] = None,
    status: Annotated[Literal["active", "inactive", "all"], Query(description="universe membership")] = "active",
    sort: Annotated[SortKey, Query(description="market_cap, name, ticker, or any indicator column")] = "market_cap",
    order: Annotated[Literal["asc", "desc"] | None, Query(description="default: desc for numbers")] = None,
) -> StockPage:
    """A market's universe, filtered and sorted; an indicator sort uses each stock's value on the latest analysed
    day (stocks without one, e.g. halted that day, come last)."""
    scope, board = _page_market(request, storage, market)
    storage = scope.storage
    answer = {"market": scope.name, "currency": scope.currency}
    query: dict[str, Any] = {}
    if status != "all":
        query["is_active"] = status == "active"
    if board:
        query["market"] = board.value
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
        return StockPage(**answer, total=total, limit=limit, offset=offset, sort=sort, order=direction, items=items)
    docs, total = storage.universe.find_tickers(query)
    day = storage.picks.latest_analysis_day()
    values = storage.picks.latest_values(sort, day) if day is not None else {}

    def rank(doc: dict[str, Any]) -> tuple[bool, float, str]:
        value = _finite(values.get(doc["ticker"]))
        return value is None, 0.0 if value is None else sign * value, doc["ticker"]

    ranked = sorted(docs, key=rank)
    page = ranked[offset : offset + limit]
    items = [_item(d, _finite(values.get(d["ticker"]))) for d in page]
    return StockPage(**answer, total=total, limit=limit, offset=offset, sort=sort, order=direction, sort_day=day,
                     items=items)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if number == number else None


def _number(value: Any) -> float | None:
    return None if value is None else _finite(value)


def _find(request: Request, storage: Any, ticker: str, market: str | None) -> tuple[MarketScope, dict[str, Any]]:
    """The market whose universe holds the ticker (the one `market=` names, else each market with screened stocks
    in turn: a KRX code or a US symbol) and its universe document; 404 listing similar tickers when none has it."""
    if market is not None:
        scopes = [market_scope(request, storage, market)]
    else:  # a market that is off on this server holds nothing to find
        scopes = [market_scope(request, storage, d.market) for d in screened_markets(request)
                  if d.off is None or not d.off(request.app.state.settings)]
        scopes = scopes or [market_scope(request, storage, None)]  # none on: the default's answer (503 or empty)
    for scope in scopes:
        if (doc := scope.storage.universe.ticker_doc(ticker)) is not None:
            return scope, doc
    known: list[str] = []
    similar: list[str] = []
    active = 0
    for scope in scopes:
        universe = scope.storage.universe.universe()
        tickers = [t["ticker"] for t in universe]
        known += tickers
        similar += [t for t in tickers if t.startswith(ticker[:3])] or [t for t in tickers if t.startswith(ticker[:2])]
        # GET /stocks lists the active ones by default: say so, or a reader counts 182 rows against "all 207".
        active += sum(1 for t in universe if t.get("is_active"))
    where = f"market={scopes[0].name}" if market is not None or len(scopes) == 1 else "all markets"
    hint = f"GET /stocks lists the {active} active, GET /stocks?status=all all {len(known)}"
    if len(scopes) > 1:
        hint = f"looked in {where} ({', '.join(s.name for s in scopes)}); {hint} of one market with market="
    raise not_found("ticker", ticker, similar or known, hint)


@router.get("/stocks/{ticker}", response_model=StockDetail, responses=error_responses(401, 404, 422, 503))
def get_stock(
    request: Request,
    storage: StorageDep,
    ticker: Annotated[str, Path(pattern=STOCK_PATTERN,
                                description="a KRX code (005930) or a US symbol in Yahoo's form (AAPL, BRK-B)")],
    now: NowDep,
    days: Annotated[int, Query(ge=1, le=500, description="recent trading days to return")] = 30,
    market: Annotated[str | None, Query(
        min_length=1, max_length=20,
        description="the market to look in (krx, us: GET /markets lists them); default: every market, KRX first",
    )] = None,
    date: Annotated[IsoDate | None, Query(description="what `fundamentals` and `options` knew at this day's end (in "
                                                      "the stock's market zone) instead of today's, YYYY-MM-DD; the "
                                                      "bars are the latest either way")] = None,
) -> StockDetail:
    """A stock's name, market, currency, market cap, its last `days` bars with that day's indicators, and how far
    its analysis has got. The ticker is looked for in each market's universe (KRX first) unless `market=` names
    one."""
    ticker = ticker.upper()
    check_days(date=date)
    scope, doc = _find(request, storage, ticker, market)
    cutoff = moment_of(now, date, scope.dataset.tz)
    datasets = request.app.state.datasets
    # the watermark items are shared, not the market's scope: read them from the unscoped store
    known = fundamentals(storage, datasets, scope.name, doc, cutoff)
    snapshot = options(storage, datasets, scope.name, ticker, cutoff)
    storage, calendar = scope.storage, scope.calendar
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
        **{k: doc.get(k) for k in _DOC_FIELDS},
        market=listed_on(doc),
        market_id=scope.name,
        currency=scope.currency,
        is_active=bool(doc.get("is_active")),
        analysis_date=max(analysis) if analysis else None,
        days=days,
        rows=rows,
        corporate_actions=[
            CorporateAction(**{**a, "date": from_stored(a["date"])})
            for a in storage.corporate_actions.corporate_actions(ticker)
        ],
        fundamentals=known,
        options=snapshot,
    )
