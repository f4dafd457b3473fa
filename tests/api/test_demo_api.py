"""The demo's API part: served on 127.0.0.1, URLs printed with their real status, the 503 naming the setting."""

from __future__ import annotations

import demo
from tests.api.conftest import api_settings


def test_the_demo_serves_the_api_and_names_the_llm_setting_to_add(analysed, capsys):
    demo.serve_api(analysed, api_settings(), "volume_spike", "2024-12-20", "2024-11-29")
    out = capsys.readouterr().out
    assert "=== the API on http://127.0.0.1:" in out
    assert "  200  http://127.0.0.1:" in out and "/screener?strategy_name=volume_spike" in out
    assert "404" not in out and "500" not in out
    assert "503 not_configured: no LLM configured: set GOOGLE_API_KEY" in out
