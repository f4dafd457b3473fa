"""The demo's offline stub model answers move_explainer through the same structured call and checks as a real
model: it cites the stock's items dated near the move, and says "no cited cause" when there are none."""

from __future__ import annotations

import pytest

from lib.ai.context import Context, Filing, Story
from lib.ai.llm import structured_call
from lib.ai.prompts import AnalysisData, StockData, discover_prompts
from lib.ai.stub import StubChatModel

PROMPT = discover_prompts()["move_explainer"]
ROWS = [{"date": f"2024-12-{d:02d}", "close": 100.0 + d % 3, "volume": 1000.0 + d} for d in range(1, 21)]


def ask(context: Context) -> dict:
    data = AnalysisData(date="2024-12-20", stocks=[StockData(ticker="005930", rows=ROWS, latest={})], context=context)
    call = structured_call(StubChatModel(), "openai", PROMPT.messages(PROMPT.variables(data)), PROMPT.output_model,
                           0, lambda output: PROMPT.check(output, data))
    return call.parsed.model_dump()


def test_the_stub_cites_the_stocks_items_near_the_move_and_passes_the_checks():
    context = Context(cutoff="2024-12-20T23:59:59+09:00", filings=[
        Filing(id="D1", ticker="005930", date="2024-12-20", title="자기주식취득결정", filer="삼성전자", flags="",
               source="dart", url="u", key="k1"),
        Filing(id="D2", ticker="005930", date="2024-12-02", title="too early", filer="삼성전자", flags="",
               source="dart", url="u", key="k2"),
    ], stories=[Story(id="N1", ticker="000660", published="2024-12-20 09:00", title="another stock", snippet="",
                      sources=["p"], url="u", key="k3")])
    answer = ask(context)
    assert answer["explained"] == "cited_cause" and [d["citations"] for d in answer["drivers"]] == [["D1"]]
    assert "+0.99%" in answer["explanation"] and "stub" in answer["explanation"]  # 101 -> 102 on 2024-12-20


def test_with_nothing_near_the_move_the_stub_says_no_cited_cause():
    answer = ask(Context(cutoff="2024-12-20T23:59:59+09:00"))
    assert answer["explained"] == "no_cited_cause" and answer["drivers"] == []
    assert answer["confidence"] == pytest.approx(0.1)
