"""Context items stored the way the collectors store them (lib/context/items.py shapes, through
lib.spine.watermark_page.store_page), for the AI tests. Test-only stand-ins: the keys and links are made up here;
the facts restated are public (Samsung Electronics' buyback filing of 2024-11-15, the Bank of Korea's base rate
cut to 3.00% on 2024-11-28)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lib.context.items import article_key
from lib.spine.watermark_page import Item, Mark, Page, store_page
from lib.storage import Storage

UTC = dt.UTC


def store(storage: Storage, dataset: str, items: list[Item], as_of: dt.datetime, vintages: bool = False) -> None:
    """Store items of a registered watermark dataset as its reader would."""
    plan = store_page(storage, dataset, Page(tuple(items), Mark()), lambda item: None, as_of, vintages)
    assert not plan.rejected, plan.rejected


def article(ticker: str, at: dt.datetime, title: str, url: str, publisher: str = "한국경제",
            snippet: str = "") -> Item:
    """A krx.news item (items.NewsData), known when published."""
    data: dict[str, Any] = {"ticker": ticker, "title": title, "snippet": snippet, "url": url, "publisher": publisher,
                            "feed": "naver", "lang": "ko"}
    return Item(article_key(ticker, url), at, data, at)


def filing(ticker: str, day: dt.date, key: str, title: str, company: str = "삼성전자") -> Item:
    """A krx.disclosures item (items.DisclosureData): dated the receipt day (KST), known at its end."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.timezone(dt.timedelta(hours=9)))
    data = {"ticker": ticker, "company": company, "title": title, "filer": company, "flags": "",
            "url": f"https://dart.fss.or.kr/dsaf001/main.do?rcpNo={key}", "source": "dart", "corp_code": "00126380"}
    return Item(key, start, data, start + dt.timedelta(days=1) - dt.timedelta(milliseconds=1))


def reading(series: str, day: dt.date, value: float | None, known_at: dt.datetime, name: str, unit: str,
            source: str = "ecos") -> Item:
    """A macro observation (items.MacroData) known from `known_at`."""
    data = {"series": series, "name": name, "value": value, "unit": unit, "frequency": "daily", "source": source}
    return Item(f"{series}:{day.isoformat()}", dt.datetime.combine(day, dt.time(0), tzinfo=UTC), data, known_at)
