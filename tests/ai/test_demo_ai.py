"""The demo's AI part: a recorded folder that is not there is skipped in one line (news turned off, so nothing
reaches for the network), and the context block prints aligned, with units."""

from __future__ import annotations

import demo_ai
from lib.ai.context import Context, Filing, MacroReading, Story
from lib.config import PROJECT_ROOT
from lib.display import width


def test_a_missing_recorded_folder_is_skipped_in_one_line_and_its_news_feed_is_off(monkeypatch, capsys):
    missing = PROJECT_ROOT / "data" / "sample" / "no-such-folder"
    monkeypatch.setattr(demo_ai, "RECORDED", {"krx.news": ("krx_news_replay_dir", missing, "krx_news"),
                                              "us.macro": ("us_macro_replay_dir", missing, None)})
    replayed = demo_ai.recorded_settings()
    assert replayed["krx_news"] is False and not {"krx_news_replay_dir", "us_macro_replay_dir"} & set(replayed)
    assert demo_ai.collect_recorded("2025-06-16", settings=None) == 0
    assert capsys.readouterr().out.splitlines() == [
        "  krx.news: skipped, no recorded answers at data/sample/no-such-folder in this checkout",
        "  us.macro: skipped, no recorded answers at data/sample/no-such-folder in this checkout",
    ]


def test_the_context_block_prints_ids_dates_sources_aligned_with_units(capsys):
    context = Context(
        cutoff="2025-06-16T23:59:59+09:00",
        filings=[Filing(id="D1", ticker="005930", date="2025-06-13", title="주요사항보고서(자기주식취득결정)",
                        filer="삼성전자", flags="정", source="dart", url="u", key="k")],
        stories=[Story(id="N1", ticker="005930", published="2025-06-16 09:10", title="Samsung shares", snippet="",
                       sources=["연합뉴스", "한국경제", "Reuters"], url="u", key="k2")],
        macro=[MacroReading(id="M1", source="ecos", series="722Y001/0101000", name="Bank of Korea base rate",
                            unit="%", frequency="daily", date="2025-05-29", value=2.5, previous_date="2025-02-25",
                            previous=2.75, change=-0.25)],
    )
    demo_ai.print_context(context, "005930", "삼성전자")
    lines = capsys.readouterr().out.splitlines()
    d1, n1 = next(line for line in lines if "D1" in line), next(line for line in lines if "N1" in line)
    assert "DART [정]" in d1 and "연합뉴스, 한국경제 +1" in n1
    assert width(d1[: d1.index("주요")]) == width(n1[: n1.index("Samsung")])  # titles start in one column
    assert any("2.5 %" in line and "-0.25 %" in line for line in lines)
