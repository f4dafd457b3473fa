"""Response models of what the AI reads (api/context.py): a stock's filings and news stories, the macro readings.
Every text field is the source's text as stored: data, never markup or instructions."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from api.types import UtcDateTime

# OpenDART's `rm` remark characters (list.json's documentation): a filing's flags are any of them, combined.
FLAG_MEANINGS: dict[str, str] = {
    "유": "KOSPI market division's filing (유가증권시장본부 소관)",
    "코": "KOSDAQ market division's filing (코스닥시장본부 소관)",
    "채": "a bond-listed company's filing (채권상장법인)",
    "넥": "KONEX market's filing (코넥스시장 소관)",
    "공": "filed with the Fair Trade Commission (공정거래위원회)",
    "연": "includes the consolidated statements (연결부분 포함)",
    "정": "corrected: a correction was filed after it; read the later report (정정)",
    "철": "withdrawn (or deemed withdrawn): see the withdrawal notice (철회)",
}


class Source(BaseModel):
    """A watermark dataset this answer reads: how far it has read, or why it is off."""

    dataset: str = Field(description="its key in the registry of datasets (krx.disclosures, us.news, ...)")
    label: str
    read_through_utc: UtcDateTime | None = Field(
        description="the newest item (or read) time its watermark stands at; null before its first read")
    off: str | None = Field(None, description="why it is off on this server (its key blank); null when it runs")
    setup: str = Field(description="what collects it: the command a person runs")


class Flag(BaseModel):
    """One remark flag of a filing, with what it means."""

    code: str = Field(description="the source's character (정, 철, 유, ...)")
    meaning: str


class Filing(BaseModel):
    """A filing (disclosure) of the stock."""

    id: str = Field(description="the filing's receipt number (OpenDART rcept_no)")
    date: dt.date = Field(description="the receipt day, in the market's zone")
    title: str = Field(description="the report's name as filed")
    company: str
    filer: str
    flags: list[Flag] = Field(description="its remark flags with their meaning; 정 corrected and 철 withdrawn "
                                          "matter most")
    url: str = Field(description="where a person reads it (the source's viewer)")
    source: str = Field(description="dart")
    known_at_utc: UtcDateTime = Field(description="when it counts as known (the receipt day's end: the source "
                                                  "gives a date only)")


class FilingPage(BaseModel):
    """A stock's filings known at a moment, newest first."""

    ticker: str
    known_at_utc: UtcDateTime = Field(description="the moment the answer is as of: now, or `date`'s cutoff")
    since: dt.date = Field(description="filings dated from this day (included)")
    until: dt.date = Field(description="to this day (included)")
    total: int = Field(description="filings in that range known at the moment")
    limit: int
    items: list[Filing]
    sources: list[Source] = Field(description="the datasets read (an empty answer says whether they run)")


class StorySource(BaseModel):
    """One article that carried a story."""

    publisher: str = Field(description="who wrote it (한국경제, Reuters)")
    feed: str = Field(description="what it came through (naver, hankyung, maeil, yahoo)")
    url: str
    published_utc: UtcDateTime
    id: str = Field(description="the article's item key")


class Story(BaseModel):
    """One event about the stock (its articles de-duplicated), with every source that carried it."""

    id: str = Field(description="its first article's item key")
    published_utc: UtcDateTime = Field(description="its first article's publication time")
    title: str = Field(description="its first article's title")
    url: str
    snippet: str = Field(description="the source's summary, never the article's body")
    sources: list[StorySource] = Field(description="every article that carried it, oldest first")


class StoryPage(BaseModel):
    """A stock's news stories known at a moment, newest first."""

    ticker: str
    known_at_utc: UtcDateTime = Field(description="the moment the answer is as of: now, or `date`'s cutoff")
    days: int = Field(description="the window read: articles published in the `days` days up to that moment")
    articles: int = Field(description="articles in the window, before grouping")
    total: int = Field(description="stories in the window")
    limit: int
    stories: list[Story]
    sources: list[Source] = Field(description="the datasets read (an empty answer says whether they run)")


class MacroReading(BaseModel):
    """A series' latest reading known at a moment, and its change against the previous one."""

    series: str = Field(description="the source's id (CPIAUCSL, T10Y2Y, 722Y001/0101000)")
    key: str = Field(description="the id as GET /macro/{series} takes it ('/' written as '-')")
    name: str
    unit: str = Field(description="the unit of `value`, `previous` and `change` (%, percentage points, KRW per "
                                  "USD, index)")
    frequency: str
    source: str = Field(description="fred or ecos")
    date: dt.date = Field(description="the observation's date")
    value: float
    known_at_utc: UtcDateTime = Field(description="when this value became known")
    previous_date: dt.date | None = None
    previous: float | None = None
    change: float | None = Field(None, description="value - previous, in `unit`")


class MacroLatest(BaseModel):
    """Each macro series' latest reading known at a moment."""

    known_at_utc: UtcDateTime = Field(description="the moment the answer is as of: now, or `date`'s cutoff")
    readings: list[MacroReading] = Field(description="one per series, by series id")
    sources: list[Source] = Field(description="the datasets read (an empty answer says whether they run)")


class MacroPoint(BaseModel):
    """One observation of a series, as known at the moment asked."""

    date: dt.date
    value: float | None = Field(description="null where the source says missing")
    known_at_utc: UtcDateTime = Field(description="when this value became known (a later revision is not shown)")


class MacroHistory(BaseModel):
    """A series' observations known at a moment, oldest first."""

    series: str
    key: str
    name: str
    unit: str
    frequency: str
    source: str
    known_at_utc: UtcDateTime
    since: dt.date
    points: list[MacroPoint]
