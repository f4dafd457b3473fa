"""us.news: Yahoo's headlines of the followed ETFs' top holdings (and of the ETFs), on the watermark cadence.

Yahoo answers only a ticker's latest articles, so the dataset is read at least daily (crontab). A run is a sweep:
one page per ticker, in ticker order, the tickers read from the store when the run starts (`prepare`: the top
US_TOP_HOLDINGS of each followed ETF's latest holdings snapshot collected by then, plus the ETFs themselves with
US_NEWS_ETFS). The cursor names the sweep's start and the last ticker stored, so a killed run resumes with the
next ticker; once the last ticker is stored, the watermark reads through the sweep's start.

Each article is one item per ticker (lib/context/items.py NewsData): key `article_key(ticker, url)` with the
canonical URL, else the click-through URL, else Yahoo's id; `at` = `known_at` = its publication time. Titles,
links, summaries and times only: never an article's body. Sources: yfinance (lib/markets/us/news_sources.py
YahooNews) or the recorded answers of US_NEWS_REPLAY_DIR (RecordedNews)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from lib.context.items import NewsData, article_key
from lib.log import get_logger
from lib.markets.us import NEW_YORK
from lib.markets.us.etf.universe import etf_specs
from lib.markets.us.settings import us_settings
from lib.markets.us.sources import yahoo_symbol
from lib.markets.us.sweep import parse_sweep_cursor, sweep_mark
from lib.spine.watermark import Item, Mark, Page, Rejected, WatermarkReader

if TYPE_CHECKING:
    from lib.config import Settings
    from lib.storage import Storage

log = get_logger("us_news")
FEED, LANG = "yahoo", "en"
# A publication time this far past the run's clock is a clock or data error, not news from the future.
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class NewsQuery:
    """One page of a sweep: the news of one ticker, as of the run's time."""

    ticker: str  # the project's ticker, as the holdings store it ("BRK.B")
    symbol: str  # Yahoo's ("BRK-B")
    sweep: dt.datetime  # when the sweep started (aware UTC): the watermark once its last ticker is stored
    now: dt.datetime  # the run's time (aware UTC); a recorded answer holds nothing published later
    last: bool  # the sweep's last ticker


class NewsSource(Protocol):
    """Where the articles come from: Yahoo (yfinance) or a folder of recorded answers."""

    name: str
    network: bool

    def fetch(self, query: NewsQuery) -> list[Any]:
        """The ticker's articles as yfinance's `Ticker.get_news` gives them."""
        ...


# --- which tickers ---------------------------------------------------------------------------------------


def news_tickers(storage: Storage, etfs: Sequence[str], top: int, day: dt.date, with_etfs: bool) -> list[str]:
    """The tickers a sweep reads, sorted: the top `top` holdings of each ETF's latest whole snapshot collected on
    or before `day`, and the ETFs themselves when `with_etfs`."""
    stocks: set[str] = set(etfs) if with_etfs else set()
    known = 0
    for etf in etfs:
        collected, rows = storage.etf.holdings_on(etf, day)
        if collected is not None:
            known += 1
            stocks |= {row["stock_ticker"] for row in rows[:top]}
    if not known:
        log.info("us.news: no ETF holdings stored by %s (etf_pipeline.py collects them): %s", day,
                 "the ETFs' own news only" if with_etfs else "nothing to read")
    return sorted(stocks)


# --- an article as an item -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A text field as stored: entities decoded, whitespace collapsed; anything not a string is empty."""
    return " ".join(html.unescape(value).split()) if isinstance(value, str) else ""


def _url(value: Any) -> str:
    """A link field of the 1.x shape ({"url": ...}, or None)."""
    return _text(value.get("url")) if isinstance(value, Mapping) else ""


def _parse_time(article: Mapping[str, Any], content: Mapping[str, Any]) -> dt.datetime:
    """The publication time, aware UTC: content.pubDate (ISO 8601, "Z") or the 0.2 shape's providerPublishTime
    (epoch seconds). Raises ValueError when neither is usable."""
    text = content.get("pubDate")
    if isinstance(text, str) and text.strip():
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if moment.tzinfo is None:  # Yahoo writes UTC; a bare time is read as such
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)
    epoch = article.get("providerPublishTime")
    if isinstance(epoch, int | float) and not isinstance(epoch, bool):
        return dt.datetime.fromtimestamp(epoch, dt.UTC)
    raise ValueError(f"no publication time (pubDate {text!r})")


def published_at(article: Any) -> dt.datetime | None:
    """An article's publication time (aware UTC), None when it has no readable one."""
    if not isinstance(article, Mapping):
        return None
    content = article.get("content")
    try:
        return _parse_time(article, content if isinstance(content, Mapping) else article)
    except (ValueError, OverflowError, OSError):
        return None


def article_item(ticker: str, article: Any) -> Item | Rejected:
    """One article of a get_news answer as an item of the ticker, or why it cannot be one. Reads the 1.x shape
    (`id`, `content.title/summary/pubDate/provider.displayName/canonicalUrl/clickThroughUrl`) and the 0.2 flat
    shape (`uuid`, `title`, `link`, `providerPublishTime`, `publisher`)."""
    if not isinstance(article, Mapping):
        return Rejected(f"an article is a {type(article).__name__}, not an object", article, ticker)
    content = article.get("content")
    nested = isinstance(content, Mapping)
    body: Mapping[str, Any] = content if isinstance(content, Mapping) else article
    ident = _text(article.get("id") or article.get("uuid") or body.get("id"))
    url = (_url(body.get("canonicalUrl")) or _url(body.get("clickThroughUrl"))) if nested else _text(body.get("link"))
    key_url = url or (f"yahoo:{ident}" if ident else "")
    if not key_url:
        return Rejected("no link and no Yahoo id to know the article by", article, ticker)
    key = article_key(ticker, key_url)
    try:
        moment = _parse_time(article, body)
    except (ValueError, OverflowError, OSError) as exc:
        return Rejected(f"unreadable publication time: {exc}", article, key)
    provider = body.get("provider")
    publisher = _text(provider.get("displayName")) if isinstance(provider, Mapping) else _text(body.get("publisher"))
    data = NewsData(ticker=ticker, title=_text(body.get("title")), snippet=_text(body.get("summary")
                    or body.get("description")), url=url, publisher=publisher, feed=FEED, lang=LANG)
    return Item(key, moment, dict(data), moment)


# --- the reader ------------------------------------------------------------------------------------------


class UsNewsReader(WatermarkReader):
    """us.news on the watermark cadence: a sweep of one page per ticker (see the module docstring)."""

    name = "yahoo_news"
    vintages = False  # an edited headline counts from its read; known_at is the first publication

    def __init__(self, source: NewsSource, tickers: Callable[[Storage, dt.datetime], list[str]],
                 min_gap_seconds: float = 0.0, max_attempts: int = 3, backoff_seconds: float = 5.0) -> None:
        self.source = source
        self.name = source.name
        self.network = source.network
        self.min_gap_seconds = min_gap_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._tickers_of = tickers
        self.tickers: list[str] = []
        self.now: dt.datetime | None = None

    def prepare(self, storage: Storage, now: dt.datetime) -> None:
        """The sweep's tickers from the store (the holdings known at the run)."""
        self.now = now.astimezone(dt.UTC)
        self.tickers = self._tickers_of(storage, now)

    def build_query(self, mark: Mark, now: dt.datetime) -> NewsQuery:
        """The next ticker of the stored sweep, or the first of a new one."""
        now = now.astimezone(dt.UTC)
        if not self.tickers:  # nothing followed yet: an empty last page that moves nothing (news_tickers said why)
            return NewsQuery("", "", now, now, True)
        resumed = parse_sweep_cursor(mark.cursor)
        remaining = [t for t in self.tickers if resumed is not None and t > resumed[1]]
        sweep = resumed[0] if resumed is not None and remaining else now
        if not (resumed is not None and remaining):
            remaining = self.tickers  # a new sweep (or the rest of the stopped one no longer followed)
        ticker = remaining[0]
        return NewsQuery(ticker, yahoo_symbol(ticker), sweep, now, ticker == self.tickers[-1])

    def fetch_raw(self, query: NewsQuery) -> list[Any]:
        """The ticker's articles from the source."""
        return self.source.fetch(query) if query.ticker else []

    def normalise(self, raw: Any, query: NewsQuery) -> Page:
        """One item per article (the first of two copies in one answer), the unreadable ones rejected."""
        if not isinstance(raw, list):
            rejected = (Rejected(f"the answer is a {type(raw).__name__}, not a list of articles", raw, query.ticker),)
            articles: list[Any] = []
        else:
            rejected, articles = (), raw
        items: dict[str, Item] = {}
        refused = list(rejected)
        for article in articles:
            found = article_item(query.ticker, article)
            if isinstance(found, Rejected):
                refused.append(found)
            else:
                items.setdefault(found.key, found)
        mark = sweep_mark(query.ticker, query.sweep, query.last)
        return Page(tuple(items.values()), mark, more=not query.last, rejected=tuple(refused))

    def validate(self, item: Item) -> str | None:
        """Refuse an article without a title or a link, or published after the run's clock."""
        if not item.data.get("title"):
            return "no title"
        if not item.data.get("url"):
            return "no link (neither a canonical nor a click-through URL)"
        if self.now is not None and item.at > self.now + CLOCK_SKEW:
            return f"published {item.at.isoformat()}, after the run's clock {self.now.isoformat()}"
        return None


def news_reader(settings: Settings) -> UsNewsReader:
    """us.news's reader: Yahoo through yfinance, or the recorded answers of US_NEWS_REPLAY_DIR."""
    from lib.markets.us.news_sources import RecordedNews, YahooNews

    us = us_settings(settings)
    source: NewsSource
    if us.news_replay_dir is not None:
        source = RecordedNews(us.news_replay_dir, us.news_count)
    else:
        source = YahooNews(us.news_count, us.request_timeout_seconds, us.rate_limit_backoff_seconds,
                           us.yfinance_http, us.yfinance_cache_dir)
    etfs = [spec.ticker for spec in etf_specs(us.benchmark_etfs, us.sector_etfs)]

    def tickers(storage: Storage, now: dt.datetime) -> list[str]:
        return news_tickers(storage, etfs, us.top_holdings, now.astimezone(NEW_YORK).date(), us.news_etfs)

    return UsNewsReader(source, tickers, us.min_request_gap_seconds, us.max_attempts, us.retry_backoff_seconds)
