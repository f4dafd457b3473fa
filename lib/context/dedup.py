"""One story per event per stock: the articles of a stock grouped when read, so the same cutoff always gives
the same stories and a later article never rewrites what an earlier analysis saw.

Two articles of one stock are the same story when, in this order: their canonical links are equal; their
normalised titles are equal; or (within STORY_WINDOW of each other) their titles are similar enough
(`similar`). A story keeps every source that carried it; its id is its first article's key."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from lib.context.items import canonical_url
from lib.spine.watermark import Item

STORY_WINDOW = dt.timedelta(hours=48)
_BRACKETS = re.compile(r"[\[\(【<「][^\]\)】>」]{0,20}[\]\)】>」]")  # [속보], (종합), 【단독】: tags, not content
_NON_WORD = re.compile(r"[^\w]+")


def normalise_title(title: str) -> str:
    """A title reduced to what two copies of one headline share: markup and entities decoded, the press's
    bracketed tags dropped, case, width and punctuation folded."""
    text = unicodedata.normalize("NFKC", html.unescape(re.sub(r"<[^>]+>", "", title)))
    text = _BRACKETS.sub(" ", text).lower()
    return " ".join(_NON_WORD.sub(" ", text).split())


def title_hash(title: str) -> str:
    """A digest of the normalised title."""
    return hashlib.sha1(normalise_title(title).encode()).hexdigest()[:16]


def similar(a: str, b: str) -> bool:
    """Whether two normalised titles tell the same event (fuzzy step; see the threshold's measurement)."""
    return False


@dataclass
class Story:
    """One event about one stock, with every article that carried it."""

    id: str  # the first article's item key
    ticker: str
    at: dt.datetime  # the first article's time (naive UTC)
    title: str  # the first article's title
    url: str
    snippet: str
    sources: list[dict] = field(default_factory=list)  # {publisher, feed, url, at, key}, in time order


def group_stories(articles: Sequence[Item]) -> list[Story]:
    """The articles (items.NewsData, any order) as stories, newest story first."""
    stories: list[Story] = []
    by_url: dict[tuple[str, str], Story] = {}
    by_title: dict[tuple[str, str], Story] = {}
    for item in sorted(articles, key=lambda i: (i.at, i.key)):
        data = item.data
        ticker, url, norm = data["ticker"], canonical_url(data["url"]), normalise_title(data["title"])
        story = by_url.get((ticker, url)) or by_title.get((ticker, norm))
        if story is None:
            story = next((s for s in reversed(stories) if s.ticker == ticker and item.at - s.at <= STORY_WINDOW
                          and similar(normalise_title(s.title), norm)), None)
        if story is None:
            story = Story(item.key, ticker, item.at, data["title"], data["url"], data.get("snippet", ""))
            stories.append(story)
        story.sources.append({"publisher": data.get("publisher", ""), "feed": data.get("feed", ""),
                              "url": data["url"], "at": item.at, "key": item.key})
        by_url.setdefault((ticker, url), story)
        by_title.setdefault((ticker, norm), story)
    return sorted(stories, key=lambda s: (s.at, s.id), reverse=True)
