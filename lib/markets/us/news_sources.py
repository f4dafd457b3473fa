"""Where us.news's articles come from (lib/markets/us/news.py): Yahoo through yfinance, or recorded answers.

yfinance 1.7.0's `Ticker.get_news(count, tab)` (read in its base.py) POSTs to finance.yahoo.com/xhr/ncp
(queryRef latestNews for tab "news", snippetCount = count) and returns `data.tickerStream.stream` without the
ads. It keeps its first answer on the Ticker object and asks again only on a new Ticker, so every request
here builds a fresh one. It returns a failed answer's body as if it were news: a 5xx whose body parses as
JSON reads as "no news", so the status of the last response decides, as for the other Yahoo requests
(lib/markets/us/yfinance_source.py: pacing, 429 as RateLimitedError, 401/403 as SourceBlockedError)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lib.errors import ConfigError
from lib.log import get_logger
from lib.markets.us.news import NewsQuery, published_at
from lib.markets.us.yfinance_source import YFinanceSource

log = get_logger("us_news")


class YahooNews:
    """A ticker's latest articles from Yahoo through yfinance, with the US market's Yahoo plumbing."""

    name = "yfinance"
    network = True

    def __init__(self, count: int, timeout: float, rate_limit_pause: float = 60.0, http: str = "curl_cffi",
                 cache_dir: Path | None = None, transport: Any = None) -> None:
        self.count = count
        # The bars source's loading (curl_cffi or requests), recording session and error classification;
        # yfinance's get_news has no timeout argument (its POST waits 30 s).
        self.yahoo = YFinanceSource.plumbing(timeout, rate_limit_pause, http, cache_dir, transport)

    def fetch(self, query: NewsQuery) -> list[Any]:
        """`Ticker.get_news(count, tab="news")` on a fresh Ticker; Yahoo's failures as the pipeline's errors."""
        where = f"yfinance {query.symbol} news"
        yahoo = self.yahoo
        yahoo._load()
        articles, status = yahoo.checked(
            lambda: yahoo._ticker(query.symbol).get_news(count=self.count, tab="news"), where)
        if status == 404:
            log.warning("%s: HTTP 404, no news for the symbol", where)
            return []
        return list(articles or [])


class RecordedNews:
    """Recorded get_news answers, one JSON list per ticker (`<TICKER>.json`, e.g. data/sample/news/us): a run
    at time T is answered the newest `count` articles published by T, as Yahoo would have answered then."""

    name = "replay"
    network = False

    def __init__(self, root: Path, count: int) -> None:
        if not root.is_dir():
            raise ConfigError(f"US_NEWS_REPLAY_DIR: {root} is not a folder (one <TICKER>.json per ticker, like "
                              "data/sample/news/us)")
        self.root = root
        self.count = count

    def _path(self, query: NewsQuery) -> Path | None:
        for name in dict.fromkeys((query.ticker, query.symbol)):
            path = self.root / f"{name}.json"
            if path.is_file():
                return path
        return None

    def fetch(self, query: NewsQuery) -> list[Any]:
        """The ticker's recorded articles published by the run's time, newest first, at most `count`."""
        path = self._path(query)
        if path is None:
            return []
        try:
            articles = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"US_NEWS_REPLAY_DIR: {path} is not readable JSON ({exc}): fix or remove it") from None
        if not isinstance(articles, list):
            raise ConfigError(f"US_NEWS_REPLAY_DIR: {path} holds a {type(articles).__name__}, not the list of "
                              "articles Ticker.get_news returns")
        # An article without a readable time is served as recorded: the reader rejects it, as it would Yahoo's.
        dated = [(published_at(a), a) for a in articles]
        served = [(t, a) for t, a in dated if t is None or t <= query.now]
        served.sort(key=lambda pair: pair[0] or query.now, reverse=True)
        return [a for _, a in served[: self.count]]
