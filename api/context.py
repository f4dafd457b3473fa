"""What the AI reads, over HTTP: a stock's filings (GET /stocks/{ticker}/disclosures) and de-duplicated news
stories (GET /stocks/{ticker}/news), and the macro series (GET /macro, GET /macro/{series}). The routes read what
the cron jobs stored (the registered watermark datasets, lib/context/read.py) and never call a source.

"Known" is the cutoff of today by the app's clock, or with `date` that day's cutoff (its end in the market's zone):
an item first known later, or a revision read later, is not in the answer, as an analysis of that day saw it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query

from api.context_models import (
    FLAG_MEANINGS,
    Filing,
    FilingPage,
    Flag,
    MacroHistory,
    MacroLatest,
    MacroPoint,
    MacroReading,
    Source,
    Story,
    StoryPage,
    StorySource,
)
from api.deps import NowDep, SettingsDep, StorageDep, read_access
from api.errors import ApiError, error_responses, not_found
from api.stocks import TICKER_PATTERN, check_days
from api.types import IsoDate
from lib.config import Settings
from lib.context import read
from lib.context.dedup import group_stories
from lib.context.read import moment_of
from lib.log import KST
from lib.spine.datasets import Dataset, Registry
from lib.spine.registry import registry
from lib.spine.watermark import Item, stored_mark
from lib.storage import Storage

router = APIRouter(tags=["context"], dependencies=[Depends(read_access)])

DISCLOSURE_WINDOW = dt.timedelta(days=365)  # `since` by default: a year of filings before `until`
MACRO_WINDOW = dt.timedelta(days=730)  # `since` by default for a series' history
US_TICKER_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,9}$"  # KRX codes (005930) and US symbols (AAPL, BRK-B)
UTC = dt.UTC




def _local_date(moment: dt.datetime, tz: ZoneInfo) -> dt.date:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(tz).date()


def sources(storage: Storage, settings: Settings, datasets: tuple[Dataset, ...]) -> list[Source]:
    """Each dataset read: how far it has read, or why it is off here (what an empty answer means)."""
    out = []
    for dataset in datasets:
        mark = stored_mark(storage, dataset.key)
        out.append(Source(dataset=dataset.key, label=dataset.label, setup=dataset.setup,
                          read_through_utc=mark.read_through if mark else None,
                          off=dataset.off(settings) if dataset.off else None))
    return out


def _of_market(datasets: tuple[Dataset, ...], market: str) -> tuple[Dataset, ...]:
    return tuple(d for d in datasets if d.market == market)


def _zone(datasets: tuple[Dataset, ...], market: str) -> ZoneInfo:
    return next((d.tz for d in datasets if d.market == market), KST)


def _krx_ticker(storage: Storage, ticker: str) -> None:
    """404 for a code outside the KRX universe, as GET /stocks/{ticker} answers."""
    if storage.universe.ticker_doc(ticker) is not None:
        return
    known = [t["ticker"] for t in storage.universe.universe()]
    similar = [t for t in known if t.startswith(ticker[:3])] or [t for t in known if t.startswith(ticker[:2])]
    raise not_found("ticker", ticker, similar or known, "GET /stocks?status=all lists the KRX universe")


def _flags(text: str) -> list[Flag]:
    return [Flag(code=c, meaning=FLAG_MEANINGS.get(c, "a remark flag this server does not know"))
            for c in dict.fromkeys(text or "") if not c.isspace()]


@router.get("/stocks/{ticker}/disclosures", response_model=FilingPage, responses=error_responses(401, 404, 422, 503))
def stock_disclosures(
    storage: StorageDep,
    settings: SettingsDep,
    now: NowDep,
    ticker: Annotated[str, Path(pattern=TICKER_PATTERN, description="6-character KRX code, e.g. 005930")],
    limit: Annotated[int, Query(ge=1, le=200, description="filings to return, newest first")] = 20,
    since: Annotated[IsoDate | None, Query(description="filings dated from this day, YYYY-MM-DD (default: a year "
                                                       "before `until`)")] = None,
    until: Annotated[IsoDate | None, Query(description="filings dated up to this day (default: the moment's day)")]
    = None,
    date: Annotated[IsoDate | None, Query(description="what was known at this day's end (KST) instead of today's, "
                                                      "YYYY-MM-DD")] = None,
) -> FilingPage:
    """A KRX stock's filings known by today's end (or `date`'s, KST), newest first, with their remark flags' meaning
    (정 corrected, 철 withdrawn, ...) and the viewer link; 404 for a code outside the universe."""
    ticker = ticker.upper()
    check_days(since=since, until=until, date=date)
    _krx_ticker(storage, ticker)
    kind = read.of_kind(registry(), "disclosures")
    tz = _zone(kind, "krx")
    moment = moment_of(now, date, tz)
    last = min(until or dt.date.max, _local_date(moment, tz))
    first = since or last - DISCLOSURE_WINDOW
    if first > last:
        raise ApiError(422, f"since ({first}) is after until ({last}); give since on or before until",
                       [{"loc": ["query", "since"], "msg": "after until", "type": "date_range"}])
    start = dt.datetime.combine(first, dt.time(0), tzinfo=tz)
    found = [i for i in read.disclosures(storage, registry(), ticker, moment, start) if _local_date(i.at, tz) <= last]
    found.sort(key=lambda i: (i.at, i.key), reverse=True)
    items = [Filing(
        id=i.key, date=_local_date(i.at, tz), title=i.data.get("title", ""), company=i.data.get("company", ""),
        filer=i.data.get("filer", ""), flags=_flags(i.data.get("flags", "")), url=i.data.get("url", ""),
        source=i.data.get("source", ""), known_at_utc=i.known_at,
    ) for i in found[:limit]]
    return FilingPage(ticker=ticker, known_at_utc=moment, since=first, until=last, total=len(found), limit=limit,
                      items=items, sources=sources(storage, settings, _of_market(kind, "krx")))


def _news_market(storage: Storage, ticker: str) -> str:
    """Which market's stock this is: the KRX universe's, a US holding's (its stored profile), else 404."""
    if storage.universe.ticker_doc(ticker) is not None:
        return "krx"
    followed = storage.etf.etf_meta()
    if ticker in followed or storage.etf.stock_profiles([ticker]):  # us.news reads the ETFs' own news too
        return "us"
    if not (len(ticker) == 6 and ticker[:1].isdigit()):  # not a KRX code: name the US side, not the universe
        raise not_found("ticker", ticker, sorted(followed),
                        "a followed US ETF or a holding of one (GET /etf/{etf}/holdings); a KRX stock by its code")
    _krx_ticker(storage, ticker)  # raises the 404 naming the universe's codes
    return "krx"


@router.get("/stocks/{ticker}/news", response_model=StoryPage, responses=error_responses(401, 404, 422, 503))
def stock_news(
    storage: StorageDep,
    settings: SettingsDep,
    now: NowDep,
    ticker: Annotated[str, Path(pattern=US_TICKER_PATTERN,
                                description="a KRX code (005930) or a US ETF holding's symbol (AAPL)")],
    limit: Annotated[int, Query(ge=1, le=100, description="stories to return, newest first")] = 20,
    days: Annotated[int, Query(ge=1, le=90, description="articles published in this many days up to the moment")]
    = 7,
    date: Annotated[IsoDate | None, Query(description="what was known at this day's end (in the stock's market "
                                                      "zone) instead of today's, YYYY-MM-DD")] = None,
) -> StoryPage:
    """A stock's news as stories (one per event: the same article through several feeds, or the same headline
    from several publishers, is one story listing every source), newest first; titles, links and snippets only."""
    ticker = ticker.upper()
    check_days(date=date)
    market = _news_market(storage, ticker)
    kind = read.of_kind(registry(), "news")
    moment = moment_of(now, date, _zone(kind, market))
    articles = read.articles(storage, registry(), ticker, moment, moment - dt.timedelta(days=days))
    stories = group_stories(articles)
    shown = [Story(
        id=s.id, published_utc=s.at, title=s.title, url=s.url, snippet=s.snippet,
        sources=[StorySource(publisher=x["publisher"], feed=x["feed"], url=x["url"], published_utc=x["at"],
                             id=x["key"]) for x in s.sources],
    ) for s in stories[:limit]]
    return StoryPage(ticker=ticker, known_at_utc=moment, days=days, articles=len(articles), total=len(stories),
                     limit=limit, stories=shown, sources=sources(storage, settings, _of_market(kind, market)))


def series_key(series: str) -> str:
    """A series id as a path segment: ECOS ids hold a '/' (722Y001/0101000), written '-' in URLs."""
    return series.replace("/", "-")


@router.get("/macro", response_model=MacroLatest, responses=error_responses(401, 422, 503))
def macro(
    storage: StorageDep,
    settings: SettingsDep,
    now: NowDep,
    date: Annotated[IsoDate | None, Query(description="what was known at this day's end (KST) instead of today's, "
                                                      "YYYY-MM-DD")] = None,
) -> MacroLatest:
    """Each macro series' latest reading known by today's end (or `date`'s, KST): value and unit, the observation's
    date, its change against the previous reading, when it became known, and its source."""
    check_days(date=date)
    moment = moment_of(now, date, KST)
    readings = [MacroReading(
        series=r.series, key=series_key(r.series), name=r.name, unit=r.unit, frequency=r.frequency, source=r.source,
        date=r.date, value=r.value, known_at_utc=r.known_at, previous_date=r.previous_date, previous=r.previous,
        change=r.change,
    ) for r in read.macro_latest(storage, registry(), moment) if r.value is not None]
    return MacroLatest(known_at_utc=moment, readings=readings,
                       sources=sources(storage, settings, read.of_kind(registry(), "macro")))


def _series(storage: Storage, datasets: Registry, moment: dt.datetime, key: str,
            start: dt.datetime) -> tuple[str, list[Item], dict]:
    """The stored series `key` names (its '/' may be written '-', in any case: dff is DFF), its observations from
    `start` and its latest fields (name, unit, ...), or 404 naming the series known at `moment`."""
    for name in dict.fromkeys(k for k in (key, key.upper()) for k in (k, k.replace("-", "/"))):
        items = read.macro_history(storage, datasets, moment, start, name).get(name)
        if items:
            return name, items, dict(items[-1].data)
        # Nothing in the window: a series stored only before it still exists (an empty history, not a 404).
        if earlier := read.macro_history(storage, datasets, moment, None, name).get(name):
            return name, [], dict(earlier[-1].data)
    known = [series_key(r.series) for r in read.macro_latest(storage, datasets, moment)]
    raise not_found("series", key, known, f"as known at {moment.isoformat(timespec='seconds')}; GET /macro lists "
                    "each series' latest reading")


@router.get("/macro/{series}", response_model=MacroHistory, responses=error_responses(401, 404, 422, 503))
def macro_series(
    storage: StorageDep,
    now: NowDep,
    series: Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z_.\-]+$",
                                description="a series id as GET /macro gives it in `key` (T10Y2Y, 722Y001-0101000)")],
    since: Annotated[IsoDate | None, Query(description="observations dated from this day (default: two years "
                                                       "before the moment)")] = None,
    date: Annotated[IsoDate | None, Query(description="what was known at this day's end (KST) instead of today's, "
                                                      "YYYY-MM-DD")] = None,
) -> MacroHistory:
    """A series' observations known by today's end (or `date`'s, KST), oldest first: each the value current then (a
    later revision is not shown) with when it became known; 404 naming the series stored."""
    check_days(since=since, date=date)
    moment = moment_of(now, date, KST)
    first = since or _local_date(moment, KST) - MACRO_WINDOW
    start = dt.datetime.combine(first, dt.time(0), tzinfo=UTC)
    name, items, data = _series(storage, registry(), moment, series, start)
    return MacroHistory(
        series=name, key=series_key(name), name=data.get("name", name), unit=data.get("unit", ""),
        frequency=data.get("frequency", ""), source=data.get("source", ""), known_at_utc=moment, since=first,
        points=[MacroPoint(date=i.at.date(), value=i.data.get("value"), known_at_utc=i.known_at) for i in items],
    )
