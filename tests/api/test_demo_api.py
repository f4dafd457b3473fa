"""The demo's API part: served on 127.0.0.1, URLs printed with their real status, the 503 naming the setting."""

from __future__ import annotations

import re

import demo
from tests.api.conftest import api_settings


def test_the_demo_serves_the_api_and_names_the_llm_setting_to_add(analysed, capsys):
    analysed.ai.ai_results.delete_many({})  # no analysis another test stored: the demo must ask the (absent) LLM
    demo.serve_api(analysed, api_settings(), "volume_spike", "2024-12-20", "2024-11-29")
    out = capsys.readouterr().out
    assert "=== the API on http://127.0.0.1:" in out
    assert re.search(r"^Dashboard: http://127\.0\.0\.1:\d+/dashboard$", out, re.MULTILINE)
    assert re.search(r"^  200  http://127\.0\.0\.1:\d+/dashboard ", out, re.MULTILINE)
    assert "/screener?strategy_name=volume_spike" in out
    statuses = re.findall(r"^  (\d{3})  http://", out, re.MULTILINE)
    assert len(statuses) >= 8 and set(statuses) == {"200"}  # every URL it prints works
    assert "503 not_configured: no LLM configured: set GOOGLE_API_KEY" in out


def test_with_an_llm_configured_the_demo_prints_the_answer_and_its_token_usage(analysed, capsys):
    import datetime as dt
    import json

    from tests.llm_fakes import ProviderStub, openai_body

    doc = analysed.picks.daily_picks_for("volume_spike", dt.date(2024, 12, 20))
    ticker = doc["picks"][0]["ticker"] if doc["picks"] else "005930"
    answer = {"ticker": ticker, "trend": "up", "summary": "Higher highs.", "support": 1.0, "resistance": 2.0,
              "signals": ["volume"], "confidence": 0.5}
    stub = ProviderStub()
    stub.answer(200, openai_body(json.dumps(answer)))
    try:
        settings = api_settings(llm_provider="openai", openai_api_key="sk-test",
                                openai_base_url=f"http://127.0.0.1:{stub.port}/v1")
        demo.serve_api(analysed, settings, "volume_spike", "2024-12-20", "2024-11-29")
    finally:
        stub.close()
    out = capsys.readouterr().out
    assert "openai/gpt-4o-mini in " in out and "tokens: 120 input, 30 output, 150 total" in out
    assert "  summary     Higher highs." in out
    assert "  support     1.00 KRW" in out and "  confidence  50%" in out and "  signals     volume" in out
    assert len(stub.requests) == 1
