"""The finance RSS feeds of Hankyung and Maeil Business (feedparser): each entry's headline is matched to the
universe's stocks by name (lib/markets/krx/news_match.py), and an entry naming two stocks is two items.

Only the title is matched: a feed's description opens the article, where market round-ups name many stocks in
passing (더팩트's wrap of 2025-06-13 names ten in its second paragraph), so a description match would tie an
article to stocks it is not about."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

import feedparser
import requests

from lib.errors import BadDataError, TransientSourceError
from lib.markets.krx.news_match import NameMatcher
from lib.markets.krx.news_text import news_item, plain, published_at, publisher_of, snippet, unreadable
from lib.spine.watermark_page import Item, Rejected

# Who writes each default feed (a feed of another outlet is named after its links' host).
FEED_PUBLISHERS = {"hankyung": "한국경제", "maeil": "매일경제"}
USER_AGENT = "stock-pipeline/1.0 (+RSS reader; headlines and links only)"


def fetch_feed(session: requests.Session, name: str, url: str, timeout: float) -> bytes:
    """The feed's XML as the server sent it; 5xx and timeouts are retried later, other refusals name the
    setting to fix."""
    where = f"RSS feed {name} ({url})"
    try:
        response = session.get(url, headers={"User-Agent": USER_AGENT}, timeout=timeout)
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise TransientSourceError(f"{where}: {exc.__class__.__name__}") from None
    except requests.RequestException as exc:
        raise BadDataError(f"{where}: request failed ({exc.__class__.__name__}); check KRX_NEWS_RSS_FEEDS") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientSourceError(f"{where}: HTTP {response.status_code}")
    if response.status_code != 200:
        raise BadDataError(f"{where}: HTTP {response.status_code}; check its URL in KRX_NEWS_RSS_FEEDS")
    return response.content


def _entry_time(entry: Any) -> dt.datetime | None:
    """The entry's publication time in UTC: feedparser's parsed time, else its text read here (a bare local
    time is Seoul's)."""
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed:
        return dt.datetime.fromtimestamp(calendar.timegm(parsed), dt.UTC)
    return published_at(entry.get("published") or entry.get("updated"))


def rss_items(raw: bytes, feed: str, matcher: NameMatcher) -> tuple[list[Item], list[Rejected], int]:
    """A feed's XML as items (pure): one per stock its headline names. Returns the items, the entries refused
    and how many entries named no stock of the universe."""
    parsed = feedparser.parse(raw)
    if parsed.get("bozo") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise BadDataError(f"RSS feed {feed}: not a feed ({problem.__class__.__name__}: {str(problem)[:100]})")
    items: list[Item] = []
    rejected: list[Rejected] = []
    unmatched = 0
    for entry in parsed.entries:
        title, url = plain(entry.get("title")), str(entry.get("link") or "").strip()
        at = _entry_time(entry)
        raw_entry = {k: str(entry.get(k) or "") for k in ("title", "link", "published", "summary")}
        if refused := unreadable(title, url, at, raw_entry, feed):
            rejected.append(refused)
            continue
        assert at is not None
        tickers = matcher.find(title)
        if not tickers:
            unmatched += 1
        summary = snippet(entry.get("summary"))
        publisher = FEED_PUBLISHERS.get(feed) or publisher_of(url)
        items.extend(news_item(t, title, summary, url, at, publisher, feed) for t in tickers)
    return items, rejected, unmatched
