"""The demo's API part (demo.py): serve the API on the demo's database, try a few routes of the markets it
ran and one AI analysis, then keep serving until Ctrl-C on a terminal."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from pydantic import SecretStr

from lib.config import Settings
from lib.display import count, krw, pad
from lib.storage import Storage


def serve_api(
    storage: Storage, settings: Settings, strategy: str, today: str, past_day: str, port: int = 0, us: bool = False,
    krx: bool = True,
) -> None:
    """Serve the API on the demo's database, try a few routes of the markets it ran (and, with KRX, one AI
    analysis), then keep serving until Ctrl-C on a terminal."""
    import secrets

    import requests

    from api.app import create_app
    from lib.log import KST
    from lib.serve import start_server

    key = secrets.token_urlsafe(12)
    api_settings = settings.model_copy(update={"api_keys": SecretStr(key)})
    moment = dt.datetime.combine(dt.date.fromisoformat(today), dt.time(21, 0), tzinfo=KST)  # after the analysis
    base, stop = start_server(create_app(api_settings, storage=storage, clock=lambda: moment), port)
    print(f"\n=== the API on {base} (the clock says {moment:%Y-%m-%d %H:%M} KST; X-API-Key: {key})")
    # Only the routes of the markets this run set up: a KRX route on a US-only store answers 404/409.
    krx_tries = [
        ("/stocks?limit=5", "the universe, largest first"),
        ("/stocks/005930?days=5", "one stock: bars and indicators"),
        (f"/screener?strategy_name={strategy}", "today's picks (stored by the analysis)"),
        (f"/screener?strategy_name=golden_cross&fast=5&slow=20&date={past_day}", "custom parameters, a past day"),
        ("/strategies", "strategies and parameters"),
        ("/prompts", "LLM prompts"),
    ]
    us_tries = [("/etf/trending?period=20", "trending US ETFs"), ("/portfolio?period=5", "the ETF trend portfolio"),
                ("/sectors", "US sectors against SPY"), ("/sectors/technology", "one sector: trend, holdings' figures")]
    tries = [
        ("/dashboard", "the dashboard: open it in a browser"),
        ("/status", "check_db's report as JSON, every market"),
        ("/health", "is collection current, per market this install runs"),
        *(krx_tries if krx else []),
        *(us_tries if us else []),
        ("/docs", "OpenAPI"),
    ]
    for path, what in tries:
        status = requests.get(base + path, timeout=60).status_code
        print(f"  {status}  {base}{path:<72} {what}")
    if krx:
        analyse_one(base, key, strategy)
    else:
        print("\n(POST /ai/analysis analyses KRX stocks: run the demo with the KRX part to try it)")
    print(f"\nDashboard: {base}/dashboard")
    if sys.stdin.isatty():
        print(f"Serving {base} (open the dashboard, try the URLs above, or {base}/docs); Ctrl-C stops.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    else:
        print("(not on a terminal: the server stops now; run ./dev demo in a terminal to keep it serving)")
    stop()


def answer_value(name: str, value: Any) -> str:
    """One field of the model's answer for people: prices in KRW, the confidence in %, lists joined."""
    if isinstance(value, list):
        return "; ".join(map(str, value)) or "-"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if name == "confidence":
            return f"{value:.0%}"
        if name in ("support", "resistance"):
            return krw(value)
    return "-" if value is None else str(value)


def analyse_one(base: str, key: str, strategy: str) -> None:
    """One POST /ai/analysis on the strategy's first pick: the model's answer, or the setting to add."""
    import requests

    picks = requests.get(f"{base}/screener", params={"strategy_name": strategy}, timeout=60).json()
    body = {"prompt": "technical_summary", "tickers": [picks["picks"][0]["ticker"]]} if picks.get("picks") else {
        "prompt": "technical_summary", "tickers": ["005930"]}
    print(f"\nPOST {base}/ai/analysis {body}")
    answer = requests.post(f"{base}/ai/analysis", json=body, headers={"X-API-Key": key}, timeout=300)
    if answer.status_code == 200:
        result = answer.json()["results"][0]
        usage = result.get("usage") or {}
        tokens = ", ".join(f"{count(usage.get(k))} {k.removesuffix('_tokens')}" for k in
                           ("input_tokens", "output_tokens", "total_tokens") if usage.get(k) is not None)
        print(f"  {result['provider']}/{result['model']} in {count(result['latency_ms'])} ms, "
              f"tokens: {tokens or 'not reported'}")
        for name, value in (result["result"] or {}).items():
            print(f"  {pad(name, 11)} {answer_value(name, value)}")
    else:
        error = answer.json()["error"]
        print(f"  {answer.status_code} {error['code']}: {error['message']}")
        if error["code"] == "not_configured":
            print("  (set GOOGLE_API_KEY, or LLM_PROVIDER=openai with OPENAI_API_KEY, in the environment and run "
                  "./dev demo again)")
