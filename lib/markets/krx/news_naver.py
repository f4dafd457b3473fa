"""The Naver Search API's news (`/v1/search/news.json`): one call per stock, its newest headlines by the stock's
name. The answer: lastBuildDate, total, start, display, items[title, originallink, link, description, pubDate]
(RFC 822, +0900); titles and descriptions carry <b> around the query and HTML entities.

The client secret travels in a header only: it is never in a URL, a log line, an exception or a stored error."""

from __future__ import annotations

from typing import Any

import requests

from lib.errors import BadDataError, RateLimitedError, SourceBlockedError, TransientSourceError
from lib.markets.krx.news_match import NameMatcher
from lib.markets.krx.news_text import news_item, plain, published_at, publisher_of, snippet, unreadable
from lib.spine.http import http_get
from lib.spine.watermark_page import Item, Rejected

NAVER_URL = "https://openapi.naver.com/v1/search/news.json"
DISPLAY = 100  # the most one call returns
KEYS_HELP = "check NAVER_CLIENT_ID/NAVER_CLIENT_SECRET and that the app has the Search API on developers.naver.com"


def _naver_error(response: requests.Response) -> str:
    """Naver's own error code and message (its JSON error body), short."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:120].strip()
    if isinstance(body, dict):
        return f"{body.get('errorCode', '')} {body.get('errorMessage', '')}".strip()[:160]
    return ""


def fetch_naver(session: requests.Session, url: str, client_id: str, secret: str, query: str,
                timeout: float) -> dict[str, Any]:
    """One search for `query`, newest first; errors by kind (a refused key blocks the source, 429 and 5xx are
    retried later)."""
    where = f"Naver news search for {query!r}"
    response = http_get(session, url, where, timeout,
                        params={"query": query, "display": DISPLAY, "start": 1, "sort": "date"},
                        headers={"X-Naver-Client-Id": client_id, "X-Naver-Client-Secret": secret})
    status = response.status_code
    if status in (401, 403):
        raise SourceBlockedError(f"{where}: HTTP {status} {_naver_error(response)}, the key was refused; {KEYS_HELP}")
    if status == 429:
        pause = response.headers.get("Retry-After", "")
        raise RateLimitedError(f"{where}: HTTP 429 {_naver_error(response)} (25,000 calls a day, 10 a second)",
                               float(pause) if pause.isdigit() else 60.0)
    if status >= 500:
        raise TransientSourceError(f"{where}: HTTP {status}")
    if status != 200:
        raise BadDataError(f"{where}: HTTP {status} {_naver_error(response)}")
    try:
        payload = response.json()
    except ValueError:
        raise BadDataError(f"{where}: the answer is not JSON: {response.text[:120]!r}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
        raise BadDataError(f"{where}: the answer has no items list: {str(payload)[:120]!r}")
    return payload


def naver_items(raw: dict[str, Any], ticker: str, matcher: NameMatcher) -> tuple[list[Item], list[Rejected], int]:
    """A search answer as items of `ticker` (pure): markup stripped, the time in UTC, the link the publisher's
    own (`originallink`, else Naver's). An article that does not name the stock (the search also matches
    words apart, or only a longer name such as the preferred share's) is left out; returns the items, the
    entries refused, and how many were left out."""
    items: list[Item] = []
    rejected: list[Rejected] = []
    unrelated = 0
    for entry in raw.get("items") or []:
        if not isinstance(entry, dict):
            rejected.append(Rejected("naver entry is not an object", entry))
            continue
        title, summary = plain(entry.get("title")), snippet(entry.get("description"))
        url = str(entry.get("originallink") or entry.get("link") or "").strip()
        at = published_at(entry.get("pubDate"))
        if refused := unreadable(title, url, at, entry, "naver"):
            rejected.append(refused)
            continue
        assert at is not None
        if ticker not in matcher.find(f"{title} {summary}", allow_common=frozenset({ticker})):
            unrelated += 1
            continue
        items.append(news_item(ticker, title, summary, url, at, publisher_of(url), "naver"))
    return items, rejected, unrelated
