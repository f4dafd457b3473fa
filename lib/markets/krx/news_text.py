"""What krx.news's two sources share: markup out of titles and snippets, publication times to UTC, the publisher
named from a link's host, and an item refused with its reason (pure)."""

from __future__ import annotations

import datetime as dt
import html
import re
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from lib.context.items import NewsData, article_key, canonical_url
from lib.spine.watermark_page import Item, Rejected

SEOUL = ZoneInfo("Asia/Seoul")
SNIPPET_CHARS = 300  # a summary, never the article: a feed's longer description is cut here
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")

# The main Korean outlets by the end of their host; another host is shown as the host itself.
PUBLISHERS: dict[str, str] = {
    "hankyung.com": "한국경제", "mk.co.kr": "매일경제", "yna.co.kr": "연합뉴스", "yonhapnewstv.co.kr": "연합뉴스TV",
    "news1.kr": "뉴스1", "newsis.com": "뉴시스", "edaily.co.kr": "이데일리", "mt.co.kr": "머니투데이",
    "sedaily.com": "서울경제", "fnnews.com": "파이낸셜뉴스", "asiae.co.kr": "아시아경제",
    "heraldcorp.com": "헤럴드경제",
    "biz.chosun.com": "조선비즈", "chosun.com": "조선일보", "joongang.co.kr": "중앙일보", "donga.com": "동아일보",
    "etnews.com": "전자신문", "etoday.co.kr": "이투데이", "wowtv.co.kr": "한국경제TV", "ajunews.com": "아주경제",
    "newspim.com": "뉴스핌", "thebell.co.kr": "더벨", "khan.co.kr": "경향신문", "hani.co.kr": "한겨레",
    "zdnet.co.kr": "지디넷코리아", "businesspost.co.kr": "비즈니스포스트", "inews24.com": "아이뉴스24",
    "dt.co.kr": "디지털타임스", "seoul.co.kr": "서울신문", "kmib.co.kr": "국민일보", "segye.com": "세계일보",
    "hankookilbo.com": "한국일보", "mbn.co.kr": "MBN", "sbs.co.kr": "SBS", "kbs.co.kr": "KBS", "ytn.co.kr": "YTN",
    "imbc.com": "MBC", "news.naver.com": "네이버뉴스", "dealsite.co.kr": "딜사이트", "bizwatch.co.kr": "비즈워치",
    "infostock.co.kr": "인포스탁데일리", "youthdaily.co.kr": "청년일보", "mediapen.com": "미디어펜",
    "tf.co.kr": "더팩트", "newsworks.co.kr": "뉴스웍스", "dailian.co.kr": "데일리안",
}


def plain(text: Any) -> str:
    """A title or snippet as text: tags (Naver's <b>) removed first, then entities decoded (so an escaped
    "&lt;특징주&gt;" stays visible), whitespace collapsed."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", str(text or "")))).strip()


def snippet(text: Any) -> str:
    """A summary cut to SNIPPET_CHARS (an ellipsis marks the cut)."""
    words = plain(text)
    return words if len(words) <= SNIPPET_CHARS else words[: SNIPPET_CHARS - 1].rstrip() + "…"


def publisher_of(url: str) -> str:
    """Who wrote an article, from its link's host: the table's name, else the host without www."""
    host = urlsplit(url).netloc.lower().split(":")[0].removeprefix("www.").removeprefix("m.")
    for end, name in sorted(PUBLISHERS.items(), key=lambda p: -len(p[0])):  # biz.chosun.com before chosun.com
        if host == end or host.endswith("." + end):
            return name
    return host


def published_at(text: Any) -> dt.datetime | None:
    """A feed's publication time as aware UTC: RFC 822 ("Mon, 16 Jun 2025 09:12:00 +0900"), or ISO 8601 / a
    bare "2025-06-16 09:12:00" read in Seoul time; None when it cannot be read."""
    value = str(text or "").strip()
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SEOUL)
    return moment.astimezone(dt.UTC)


def news_item(ticker: str, title: str, summary: str, url: str, at: dt.datetime, publisher: str,
              feed: str) -> Item:
    """One article about one stock as the stored item (lib/context/items.py NewsData)."""
    link = canonical_url(url)
    data: NewsData = {"ticker": ticker, "title": title, "snippet": summary, "url": link, "publisher": publisher,
                      "feed": feed, "lang": "ko"}
    return Item(article_key(ticker, url), at, dict(data), at)


def unreadable(title: str, url: str, at: dt.datetime | None, raw: Any, feed: str) -> Rejected | None:
    """Why a source's entry cannot become an item (no title, link or readable time), or None."""
    missing = "title" if not title else "link" if not url else "readable time" if at is None else None
    return Rejected(f"{feed} entry without a {missing}", raw, url or None) if missing else None
