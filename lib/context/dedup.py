"""One story per event per stock: the articles of a stock grouped when read, so the same cutoff always gives
the same stories and a later article never rewrites what an earlier analysis saw.

Two articles of one stock are the same story when, in this order: their canonical links are equal; their
normalised titles are equal and they are within STORY_WINDOW of the story's first article; or, within that
window, a title of the story is similar enough to theirs (`similar`, measured by tools/measure_dedup.py on the
labelled pairs of tests/fixtures/news_pairs.csv). A story keeps every source that carried it; its id is its first
article's key. Only the stories of the same stock opened within the window are compared, so the cost grows with
the articles of a stock per window, never with the whole day's articles squared."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import unicodedata
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from lib.context.items import canonical_url
from lib.spine.watermark import Item

STORY_WINDOW = dt.timedelta(hours=48)
_BRACKETS = re.compile(r"[\[\(【<「][^\]\)】>」]{0,20}[\]\)】>」]")  # [속보], (종합), 【단독】: tags, not content
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")  # 10,000 and 10000 are one number
_NON_WORD = re.compile(r"[^\w.]+|(?<!\d)\.|\.(?!\d)")  # keeps a decimal point: 8.2% is not 8 2%
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


@dataclass(frozen=True)
class Rule:
    """When two titles of one language tell the same event."""

    threshold: float  # title_similarity (0-100) at or above which they do
    numbers_must_meet: bool  # two titles that both carry numbers must share one ("sells 10,000" vs "sells 1,000")


# Measured on tests/fixtures/news_pairs.csv by tools/measure_dedup.py: each language's threshold is the one with the
# highest F1 at a precision of at least 0.95 (a wrong merge hides a story from the model; a missed one only shows
# it twice). English outlets reuse templates ("Insider Sale: ... Sells 2,500 Shares of ...") where only a number
# tells two events apart; Korean outlets round the same figure differently ("210%대" vs "208%"), so the number rule
# costs Korean recall without saving precision there and is off for it.
RULES: Mapping[str, Rule] = {"en": Rule(threshold=89, numbers_must_meet=True),
                             "ko": Rule(threshold=56, numbers_must_meet=False)}


def normalise_title(title: str) -> str:
    """A title reduced to what two copies of one headline share: markup and entities decoded, the press's
    bracketed tags dropped, case, width, thousands separators and punctuation folded."""
    text = unicodedata.normalize("NFKC", html.unescape(re.sub(r"<[^>]+>", "", title)))
    text = _THOUSANDS.sub("", _BRACKETS.sub(" ", text).lower())
    return " ".join(_NON_WORD.sub(" ", text).split())


def title_hash(title: str) -> str:
    """A digest of the normalised title."""
    return hashlib.sha1(normalise_title(title).encode()).hexdigest()[:16]


def language(a: str, b: str) -> str:
    """"ko" when either title has Hangul, else "en" (the rule for every other script)."""
    return "ko" if _HANGUL.search(a) or _HANGUL.search(b) else "en"


def title_similarity(a: str, b: str) -> float:
    """How alike two normalised titles are, 0-100: the mean of rapidfuzz's token_set_ratio (word order and extra
    words ignored) and token_sort_ratio (extra words count), so a short generic title is not 100 against every
    longer one that contains it ("These Stocks Are Moving the Most Today")."""
    return (fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 2


def numbers_meet(a: str, b: str) -> bool:
    """False when both titles carry numbers and share none."""
    left, right = set(_NUMBER.findall(a)), set(_NUMBER.findall(b))
    return not left or not right or bool(left & right)


def similar(a: str, b: str, rules: Mapping[str, Rule] = RULES) -> bool:
    """Whether two normalised titles tell the same event, by their language's measured rule."""
    rule = rules[language(a, b)]
    if rule.numbers_must_meet and not numbers_meet(a, b):
        return False
    return title_similarity(a, b) >= rule.threshold


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


def group_stories(articles: Sequence[Item], window: dt.timedelta = STORY_WINDOW,
                  rules: Mapping[str, Rule] = RULES) -> list[Story]:
    """The articles (items.NewsData, any order) as stories, newest story first; the same articles in any order
    give the same stories."""
    stories: list[Story] = []
    by_url: dict[tuple[str, str], Story] = {}
    by_title: dict[tuple[str, str], Story] = {}
    titles: dict[str, list[str]] = {}  # story id -> its distinct normalised titles
    recent: dict[str, deque[Story]] = defaultdict(deque)  # per stock, the stories opened within the window
    for item in sorted(articles, key=lambda i: (i.at, i.key)):
        data = item.data
        ticker, url, norm = data["ticker"], canonical_url(data["url"]), normalise_title(data["title"])
        open_ = recent[ticker]
        while open_ and item.at - open_[0].at > window:  # articles come in time order: older stories are closed
            open_.popleft()
        story = by_url.get((ticker, url))  # one link is one article, whenever it is read again
        if story is None:
            same_title = by_title.get((ticker, norm))
            story = same_title if same_title is not None and item.at - same_title.at <= window else None
        if story is None:  # newest first: an event retold later joins its latest telling
            story = next((s for s in reversed(open_) if any(similar(t, norm, rules) for t in titles[s.id])), None)
        if story is None:
            story = Story(item.key, ticker, item.at, data["title"], data["url"], data.get("snippet", ""))
            stories.append(story)
            open_.append(story)
            titles[story.id] = []
        story.sources.append({"publisher": data.get("publisher", ""), "feed": data.get("feed", ""),
                              "url": data["url"], "at": item.at, "key": item.key})
        if norm not in titles[story.id]:
            titles[story.id].append(norm)
        by_url.setdefault((ticker, url), story)
        by_title[(ticker, norm)] = story  # the latest story of a title: a repeat days later opens a new one
    return sorted(stories, key=lambda s: (s.at, s.id), reverse=True)
