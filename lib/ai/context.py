"""The context block every prompt gets: for its tickers and day, the filings, the de-duplicated news stories and
the latest macro readings and each stock's latest statements known at that day's cutoff (its end in the market's
zone, never later), each with a short id the answer cites (D1.. filings, N1.. stories, M1.. macro readings, F1..
a stock's latest known quarter with its trailing twelve months).

Ids are given in a fixed order (the request's tickers in order, each stock's items newest first; the macro
series by source and id), so the same stored data always gives the same ids. Titles and snippets are outside
text: they are clipped here and sent only inside a data block (lib/ai/prompts.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from lib.context.dedup import group_stories
from lib.context.financials import financials
from lib.context.items import FINANCIAL_FIELDS
from lib.context.read import articles, day_cutoff, disclosures, macro_latest, of_kind

if TYPE_CHECKING:
    from lib.config import Settings
    from lib.spine.datasets import Registry
    from lib.storage import Storage

UTC = dt.UTC


class Filing(BaseModel):
    """A filing known at the cutoff."""

    id: str = Field(description="D1, D2, ...: what an answer cites")
    ticker: str
    date: str = Field(description="the receipt day (YYYY-MM-DD, the market's zone); the source gives a date only")
    title: str = Field(description="the report's name, clipped")
    filer: str
    flags: str = Field(description="the source's remark flags (정 corrected, 철 withdrawn, ...), as given")
    source: str
    url: str
    key: str = Field(description="the item's natural key (OpenDART rcept_no)")


class Story(BaseModel):
    """A news story (one event, every source that carried it) first published before the cutoff."""

    id: str = Field(description="N1, N2, ...: what an answer cites")
    ticker: str
    published: str = Field(description="its first article's time, YYYY-MM-DD HH:MM in the market's zone")
    title: str = Field(description="outside text, clipped")
    snippet: str = Field(description="the source's summary, outside text, clipped")
    sources: list[str] = Field(description="the publishers that carried it, first first")
    url: str
    key: str = Field(description="the story's first article's item key")


class MacroReading(BaseModel):
    """A macro series' latest value known at the cutoff, and its change from the reading before."""

    id: str = Field(description="M1, M2, ...: what an answer cites")
    source: str
    series: str
    name: str
    unit: str
    frequency: str
    date: str = Field(description="the observation's date")
    value: float | None
    previous_date: str | None
    previous: float | None
    change: float | None = Field(description="value - previous, in the series' unit")


class Statements(BaseModel):
    """A stock's latest quarter whose figures were known at the cutoff (its end plus the lag setting, or its
    first read when later) and the trailing twelve months of its flows."""

    id: str = Field(description="F1, F2, ...: what an answer cites")
    ticker: str
    period_end: str = Field(description="the latest known quarter's end (YYYY-MM-DD)")
    currency: str
    quarter: dict[str, float | None] = Field(description="that quarter's figures: flows over it, balances at its end")
    ttm: dict[str, float | None] = Field(description="the flows summed over the four latest quarters (empty, or "
                                                     "None per figure, unless four consecutive quarters carry it)")


class Context(BaseModel):
    """What an analysis may cite, as of `cutoff`."""

    cutoff: str = Field(description="the last moment known (ISO, the market's zone): nothing later is in here")
    filings: list[Filing] = Field(default_factory=list)
    stories: list[Story] = Field(default_factory=list)
    macro: list[MacroReading] = Field(default_factory=list)
    statements: list[Statements] = Field(default_factory=list)

    def ids(self) -> set[str]:
        """Every id the block gives."""
        return {i.id for i in (*self.filings, *self.stories, *self.macro, *self.statements)}

    def describe(self) -> dict[str, str]:
        """Each id and what it stands for, one line each (for a person reading a stored result)."""
        lines = {f.id: f"{f.date} {f.ticker} filing: {f.title} ({f.filer}, {f.source})" for f in self.filings}
        lines |= {s.id: f"{s.published} {s.ticker} news: {s.title} ({', '.join(s.sources)})" for s in self.stories}
        lines |= {m.id: f"{m.date} {m.name}: {m.value} {m.unit} ({m.source} {m.series})" for m in self.macro}
        lines |= {f.id: f"{f.period_end} {f.ticker} quarter: revenue {f.quarter.get('total_revenue')} {f.currency}, "
                        f"diluted EPS {f.quarter.get('diluted_eps')}" for f in self.statements}
        return lines

    def brief(self) -> dict:
        """The block as a prompt sees it (no keys or links: ids, dates, texts, values)."""
        return {
            "known_until": self.cutoff,
            "filings": [f.model_dump(exclude={"url", "key", "source"}) for f in self.filings],
            "news": [s.model_dump(exclude={"url", "key"}) for s in self.stories],
            "macro": [m.model_dump(exclude={"frequency"}) for m in self.macro],
            **({"statements": [f.model_dump() for f in self.statements]} if self.statements else {}),
        }


def clip(text: str, chars: int) -> str:
    """One line of at most `chars` characters (whitespace folded; a cut one ends with "…")."""
    line = " ".join(str(text or "").split())
    return line if len(line) <= chars else line[: chars - 1].rstrip() + "…"


def _local(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """A stored time (naive UTC) in the market's zone."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(tz)


def build_context(
    storage: Storage, registry: Registry, tickers: Sequence[str], day: dt.date, tz: ZoneInfo, settings: Settings
) -> Context:
    """The context of an analysis of `tickers` dated `day` in `tz`: only what was known at the day's end."""
    cutoff = day_cutoff(day, tz)
    per_stock, chars = settings.ai_context_items_per_stock, settings.ai_context_text_chars
    filings: list[Filing] = []
    stories: list[Story] = []
    for ticker in tickers:
        if per_stock == 0:
            break
        since = cutoff - dt.timedelta(days=settings.ai_context_disclosure_days)
        found = disclosures(storage, registry, ticker, cutoff, since)
        for item in sorted(found, key=lambda i: (i.at, i.key), reverse=True)[:per_stock]:
            data = item.data
            filings.append(Filing(
                id=f"D{len(filings) + 1}", ticker=ticker, date=_local(item.at, tz).date().isoformat(),
                title=clip(data.get("title", ""), chars), filer=clip(data.get("filer", ""), 60),
                flags=data.get("flags", ""), source=data.get("source", ""), url=data.get("url", ""), key=item.key,
            ))
        since = cutoff - dt.timedelta(days=settings.ai_context_news_days)
        for story in group_stories(articles(storage, registry, ticker, cutoff, since))[:per_stock]:
            stories.append(Story(
                id=f"N{len(stories) + 1}", ticker=ticker, published=f"{_local(story.at, tz):%Y-%m-%d %H:%M}",
                title=clip(story.title, chars), snippet=clip(story.snippet, chars),
                sources=list(dict.fromkeys(clip(s["publisher"] or s["feed"], 40) for s in story.sources)),
                url=story.url, key=story.id,
            ))
    macro = [
        MacroReading(
            id=f"M{number}", source=r.source, series=r.series, name=clip(r.name, 80), unit=r.unit,
            frequency=r.frequency, date=r.date.isoformat(), value=r.value,
            previous_date=r.previous_date.isoformat() if r.previous_date else None, previous=r.previous,
            change=r.change,
        )
        for number, r in enumerate(sorted(macro_latest(storage, registry, cutoff), key=lambda r: (r.source, r.series)),
                                   start=1)
    ]
    return Context(cutoff=cutoff.isoformat(timespec="seconds"), filings=filings, stories=stories, macro=macro,
                   statements=_statements(storage, registry, tickers, cutoff))


def _statements(storage: Storage, registry: Registry, tickers: Sequence[str], cutoff: dt.datetime) -> list[Statements]:
    """Each ticker's latest known quarter and TTM, in the request's order (none where nothing is known)."""
    datasets = tuple(d.key for d in of_kind(registry, "financials"))
    found: list[Statements] = []
    for ticker in tickers if datasets else ():
        known = financials(storage, ticker, cutoff, datasets)
        if not known.quarterly:
            continue
        latest = known.quarterly[0]
        quarter = {name: latest.get(name) for name in FINANCIAL_FIELDS}
        found.append(Statements(id=f"F{len(found) + 1}", ticker=ticker, period_end=latest["period_end"],
                                currency=latest.get("currency", ""), quarter=quarter, ttm=known.ttm))
    return found


def cited_ids(value: object) -> list[str]:
    """Every id an answer cites: the items of each `citations` field, at any depth of the output."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            inner = getattr(value, name)
            if name == "citations" and isinstance(inner, list):
                found += [str(i) for i in inner]
            else:
                found += cited_ids(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            found += cited_ids(inner)
    return found


def has_citations(model: type[BaseModel]) -> bool:
    """Whether an output model has a `citations` field somewhere (every prompt's answer cites its sources)."""
    seen: set[type] = set()

    def walk(kind: object) -> bool:
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            if kind in seen:
                return False
            seen.add(kind)
            return any(name == "citations" or walk(f.annotation) for name, f in kind.model_fields.items())
        return any(walk(arg) for arg in getattr(kind, "__args__", ()))

    return walk(model)
