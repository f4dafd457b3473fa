"""Which market a stock or screener route reads (`market=`: krx, us, ... every market with a screened dataset in
this install), and GET /markets listing them for the dashboard's selector.

A market's stocks, analysis rows, picks and track records are in its own collections (Storage.scoped with the
dataset's namespace); its calendar dates them and its currency prices them. An unknown name is a 422 listing the
known ones; a market registered but off on this server is a 503 naming the setting and the command that fills
it. KRX is the default: a request without `market=` reads what it always read."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.deps import SettingsDep, StorageDep, read_access
from api.errors import ApiError, clip, error_responses
from lib.spine.datasets import Dataset
from lib.storage import Storage

router = APIRouter(tags=["stocks"], dependencies=[Depends(read_access)])
_calendars_lock = threading.Lock()

LISTED = ("where it is listed: the KRX board (KOSPI, KOSDAQ), or a US stock's exchange code (Q NASDAQ, N NYSE, "
          "A NYSE American, P NYSE Arca, Z Cboe BZX, V IEX)")
MARKET_QUERY = Query(
    min_length=1, max_length=20,
    description="the market: one with screened stocks on this server (GET /markets lists them: krx, us); default: "
                "the first, krx",
)


@dataclass(frozen=True)
class MarketScope:
    """One market as a route reads it: its dataset, its own collections, its calendar and currency."""

    name: str  # "krx", "us"
    dataset: Dataset
    storage: Storage  # scoped to the dataset's namespace
    calendar: Any  # its TradingCalendar, None when the dataset has none
    currency: str  # "KRW", "USD"
    default: bool  # what a request without `market=` reads

    @property
    def analysis_command(self) -> str:
        """What analyses it, for messages (the default market's words as they always were)."""
        return "hourly_analysis" if self.default else f"`python hourly_analysis.py --market {self.name}`"

    @property
    def sessions(self) -> str:
        """Its sessions in words, for messages: "KRX sessions"."""
        return f"{self.name.upper()} sessions"


def screened_markets(request: Request) -> tuple[Dataset, ...]:
    """The datasets with screened stocks this app serves, the default (KRX's) first."""
    return request.app.state.datasets.screened_all()


def calendar_of(request: Request, dataset: Dataset) -> Any:
    """The market's calendar, built on first use and kept (the first market's is built with the app)."""
    calendars: dict[str, Any] = request.app.state.calendars
    if dataset.market not in calendars:
        with _calendars_lock:
            if dataset.market not in calendars and dataset.calendar is not None:
                calendars[dataset.market] = dataset.calendar(request.app.state.settings)
    return calendars.get(dataset.market)


def market_scope(request: Request, storage: Storage, market: str | None) -> MarketScope:
    """The market `market=` names (default: the first screened one); 422 for an unknown name, 503 for one that is
    off on this server."""
    datasets = request.app.state.datasets
    screened = datasets.screened_all()
    if not screened:
        raise ApiError(503, "no market with screened stocks is registered on this server (see `python check_db.py`)",
                       code="not_configured")
    known = [d.market for d in screened]
    if market is None:
        dataset = screened[0]
    else:
        dataset = next((d for d in screened if d.market == market.strip().lower()), None)
        if dataset is None:
            raise ApiError(422, f"unknown market {clip(market, 20)!r}; known: {', '.join(known)} (GET /markets)",
                           {"known": known})
    if dataset.off is not None and (why := dataset.off(request.app.state.settings)):
        raise ApiError(503, f"market {dataset.market} ({dataset.label}) is off on this server: {why}; turn it on, "
                            f"then {dataset.setup}", {"market": dataset.market, "off": why}, code="not_configured")
    return MarketScope(dataset.market, dataset, storage.scoped(dataset.namespace), calendar_of(request, dataset),
                       dataset.currency, dataset is screened[0])


def get_market(request: Request, storage: StorageDep,
               market: Annotated[str | None, MARKET_QUERY] = None) -> MarketScope:
    """The `market=` query parameter as a scope (see market_scope)."""
    return market_scope(request, storage, market)


MarketDep = Annotated[MarketScope, Depends(get_market)]


class MarketInfo(BaseModel):
    """A market whose stocks this server screens."""

    market: str = Field(description="its name, as `market=` takes it: krx, us")
    label: str = Field(description="for people: KRX (KOSPI, KOSDAQ), US stocks (XNYS)")
    currency: str = Field(description="the currency of its prices: KRW, USD")
    default: bool = Field(description="what a request without `market=` reads")
    on: bool = Field(description="false when this server does not run it (then `off` says why)")
    off: str | None = Field(None, description="why it is off on this server, e.g. US_STOCKS is false")
    stocks: int = Field(description="active stocks in its universe")
    analysed_through: str | None = Field(None, description="the newest day whose picks are stored (YYYY-MM-DD, the "
                                                           "market's own trading day)")
    setup: str = Field(description="what fills it when it is empty")


class MarketList(BaseModel):
    """The markets with screened stocks, the default first."""

    markets: list[MarketInfo]


@router.get("/markets", response_model=MarketList, responses=error_responses(401, 503))
def markets(request: Request, storage: StorageDep, settings: SettingsDep) -> MarketList:
    """Every market whose stocks this server screens (what `market=` of /stocks and /screener takes), with its
    currency and whether it is on and filled; the dashboard's market selector lists these."""
    out = []
    for i, dataset in enumerate(screened_markets(request)):
        why = dataset.off(settings) if dataset.off is not None else None
        scoped = storage.scoped(dataset.namespace)
        latest = None if why else scoped.picks.latest_analysis_day()
        out.append(MarketInfo(
            market=dataset.market, label=dataset.label, currency=dataset.currency, default=i == 0, on=why is None,
            off=why, stocks=0 if why else scoped.universe.count_active(),
            analysed_through=latest.isoformat() if latest else None, setup=dataset.setup,
        ))
    return MarketList(markets=out)
