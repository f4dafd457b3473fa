"""The context block: only what was known at the day's end in the market's zone, short ids that stay the same
for the same data, capped and clipped per stock, macro readings with their change."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from lib.ai.context import build_context
from lib.spine.registry import registry
from tests.ai.items import UTC, article, filing, reading, store

SEOUL = ZoneInfo("Asia/Seoul")
DAY = dt.date(2024, 12, 20)
LATER = dt.datetime(2024, 12, 23, 3, 0, tzinfo=UTC)  # every item below was collected after the day


def test_news_published_after_the_days_end_in_seoul_is_left_out_and_news_before_it_is_in(storage, make_settings):
    store(storage, "krx.news", [
        article("005930", dt.datetime(2024, 12, 20, 14, 30, tzinfo=UTC), "late evening story",
                "https://example.test/a/1"),  # 23:30 KST on the day
        article("005930", dt.datetime(2024, 12, 20, 15, 0, tzinfo=UTC), "next morning story",
                "https://example.test/a/2"),  # 00:00 KST the next day: after the cutoff
    ], as_of=LATER)
    context = build_context(storage, registry(), ["005930"], DAY, SEOUL, make_settings())
    assert [s.title for s in context.stories] == ["late evening story"]
    assert context.stories[0].published == "2024-12-20 23:30"  # shown in the market's zone
    assert context.cutoff == "2024-12-20T23:59:59+09:00"
    next_day = build_context(storage, registry(), ["005930"], DAY + dt.timedelta(days=1), SEOUL, make_settings())
    assert [s.title for s in next_day.stories] == ["next morning story", "late evening story"]


def test_ids_are_the_same_for_the_same_data_whatever_order_it_was_stored_in(storage, make_settings):
    items = [
        article("005930", dt.datetime(2024, 12, 18, 1, 0, tzinfo=UTC), "first", "https://example.test/n/1"),
        article("005930", dt.datetime(2024, 12, 19, 1, 0, tzinfo=UTC), "second", "https://example.test/n/2"),
        article("000660", dt.datetime(2024, 12, 19, 2, 0, tzinfo=UTC), "hynix", "https://example.test/n/3"),
    ]
    store(storage, "krx.news", items, as_of=LATER)
    settings = make_settings()
    once = build_context(storage, registry(), ["005930", "000660"], DAY, SEOUL, settings)
    again = build_context(storage, registry(), ["005930", "000660"], DAY, SEOUL, settings)
    assert once == again
    assert [(s.id, s.title) for s in once.stories] == [("N1", "second"), ("N2", "first"), ("N3", "hynix")]
    storage.watermarks.wm_items.delete_many({})
    store(storage, "krx.news", list(reversed(items)), as_of=LATER)
    assert build_context(storage, registry(), ["005930", "000660"], DAY, SEOUL, settings) == once


def test_filings_are_capped_per_stock_newest_first_within_the_window_and_titles_clipped(storage, make_settings):
    store(storage, "krx.disclosures", [
        filing("005930", dt.date(2024, 11, 15), "test-0001", "주요사항보고서(자기주식취득결정)"),
        filing("005930", dt.date(2024, 12, 2), "test-0002", "기업설명회(IR)개최(안내공시) " * 10),
        filing("005930", dt.date(2024, 12, 20), "test-0003", "임원ㆍ주요주주특정증권등소유상황보고서"),
        filing("005930", dt.date(2024, 12, 23), "test-0004", "after the day"),
    ], as_of=LATER)
    settings = make_settings(ai_context_items_per_stock=2, ai_context_text_chars=40)
    context = build_context(storage, registry(), ["005930"], DAY, SEOUL, settings)
    assert [(f.id, f.date, f.key) for f in context.filings] == [("D1", "2024-12-20", "test-0003"),
                                                                  ("D2", "2024-12-02", "test-0002")]
    assert len(context.filings[1].title) == 40 and context.filings[1].title.endswith("…")
    wide = make_settings(ai_context_disclosure_days=40)
    assert [f.key for f in build_context(storage, registry(), ["005930"], DAY, SEOUL, wide).filings] == [
        "test-0003", "test-0002", "test-0001"]  # 2024-11-15 is within 40 days, not within 30


def test_macro_readings_are_the_latest_known_at_the_cutoff_with_their_change(storage, make_settings):
    name, unit = "Bank of Korea base rate", "%"
    store(storage, "krx.macro", [
        reading("722Y001/0101000", dt.date(2024, 10, 11), 3.25, dt.datetime(2024, 10, 11, 2, 0, tzinfo=UTC), name,
                unit),
        reading("722Y001/0101000", dt.date(2024, 11, 28), 3.00, dt.datetime(2024, 11, 28, 2, 0, tzinfo=UTC), name,
                unit),
        reading("722Y001/0101000", dt.date(2024, 12, 20), 2.75, dt.datetime(2024, 12, 21, 2, 0, tzinfo=UTC), name,
                unit),  # a value first known after the day's end (a test-only stand-in): never seen
    ], as_of=LATER, vintages=True)
    [reading_] = build_context(storage, registry(), ["005930"], DAY, SEOUL, make_settings()).macro
    assert (reading_.id, reading_.date, reading_.value, reading_.previous) == ("M1", "2024-11-28", 3.0, 3.25)
    assert reading_.change == -0.25 and reading_.unit == "%"
