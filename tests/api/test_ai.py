"""POST /ai/analysis and GET /ai/analysis/{id}: keys, rate limit across workers, the cache, side-by-side
models, and failures that answer an error and cache nothing."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lib.ai.llm import ModelSpec
from tests.api.conftest import KEY, NOW, api_settings
from tests.llm_fakes import fake_model, reply

AUTH = {"X-API-Key": KEY}
SUMMARY = {"ticker": "005930", "trend": "up", "summary": "Rising.", "support": 50000, "resistance": 60000,
           "signals": ["MACD above signal"], "confidence": 0.6}


class Factory:
    """Hands out fake models per (provider, model) and counts how many were asked."""

    def __init__(self, *replies, per_model=None):
        self.replies = list(replies)
        self.per_model = per_model or {}
        self.models = []
        self.lock = threading.Lock()

    def __call__(self, settings, spec: ModelSpec):
        with self.lock:
            answers = self.per_model.get(spec.model, self.replies)
            model = fake_model(*answers)
            self.models.append((spec, model))
            return model

    @property
    def calls(self) -> int:
        return sum(len(m.received) for _, m in self.models)


@pytest.fixture
def ai_client(make_client):
    def make(factory, **settings):
        return make_client(llm_factory=factory, google_api_key="g-key", **settings)

    return make


def test_an_analysis_is_structured_stored_and_served_again_without_an_llm_call(ai_client):
    factory = Factory(reply(SUMMARY, tokens=(900, 120)))
    client = ai_client(factory)
    body = {"prompt": "technical_summary", "tickers": ["005930"]}
    first = client.post("/ai/analysis", json=body, headers=AUTH)
    assert first.status_code == 200, first.text
    result = first.json()["results"][0]
    assert result["status"] == "ok" and result["result"]["trend"] == "up" and result["cached"] is False
    assert result["usage"] == {"input_tokens": 900, "output_tokens": 120, "total_tokens": 1020}
    assert first.json()["data_date"] == "2024-12-20" and result["model"] == "gemini-2.5-flash"
    assert factory.calls == 1
    again = client.post("/ai/analysis", json=body, headers=AUTH).json()["results"][0]
    assert again["cached"] is True and again["id"] == result["id"] and factory.calls == 1
    stored = client.get(f"/ai/analysis/{result['id']}").json()
    assert stored["raw_reply"] and stored["prompt"] == "technical_summary" and stored["tickers"] == ["005930"]
    assert stored["latency_ms"] >= 0 and stored["finish_reason"] == "stop" and stored["model_name"] == "fake-model"
    older = client.post("/ai/analysis", json={**body, "date": "2024-11-29"}, headers=AUTH).json()
    assert older["data_date"] == "2024-11-29" and factory.calls == 2  # other data: a new call


def test_a_strategys_picks_become_the_tickers(ai_client, analysed):
    doc = next(d for d in analysed.picks.daily_picks.find({"strategy": "rsi_oversold_rebound", "count": {"$gte": 2}}))
    tickers = [p["ticker"] for p in doc["picks"]]
    ranking = {"ranking": [{"ticker": t, "rank": i + 1, "score": 50, "rationale": "x"} for i, t in enumerate(tickers)],
               "summary": "ok"}
    factory = Factory(reply(ranking))
    client = ai_client(factory)
    body = {"prompt": "picks_ranking", "strategy_name": "rsi_oversold_rebound", "date": doc["date"]}
    response = client.post("/ai/analysis", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["tickers"] == tickers and response.json()["strategy"] == "rsi_oversold_rebound"
    sent = next(m for _, m in factory.models if m.received).received[0][-1].content
    assert doc["picks"][0]["reason"] in sent  # the strategy's reasons reach the prompt


def test_two_models_side_by_side(ai_client):
    other = dict(SUMMARY, trend="sideways")
    factory = Factory(per_model={"gemini-2.5-flash": [reply(SUMMARY)], "gpt-4o-mini": [reply(other)]})
    client = ai_client(factory, openai_api_key="sk-key")
    models = [{"provider": "gemini", "model": "gemini-2.5-flash"}, {"provider": "openai", "model": "gpt-4o-mini"}]
    body = {"prompt": "technical_summary", "tickers": ["005930"], "models": models}
    results = client.post("/ai/analysis", json=body, headers=AUTH).json()["results"]
    assert [(r["provider"], r["result"]["trend"]) for r in results] == [("gemini", "up"), ("openai", "sideways")]
    assert results[0]["id"] != results[1]["id"]


def test_an_unparseable_reply_is_a_502_stored_with_its_raw_reply_and_never_cached(ai_client):
    factory = Factory(*(reply("I'd say bullish.") for _ in range(3)))
    client = ai_client(factory, llm_parse_retries=2)
    body = {"prompt": "technical_summary", "tickers": ["005930"]}
    response = client.post("/ai/analysis", json=body, headers=AUTH)
    assert response.status_code == 502 and "did not match" in response.json()["error"]["message"]
    result_id = response.json()["error"]["details"]["results"][0]["id"]
    stored = client.get(f"/ai/analysis/{result_id}").json()
    assert stored["status"] == "failed" and stored["raw_reply"] == "I'd say bullish." and stored["result"] is None
    assert stored["attempts"] == 3 and "not valid JSON" in stored["parse_error"]
    factory.replies = [reply(SUMMARY)]
    assert client.post("/ai/analysis", json=body, headers=AUTH).json()["results"][0]["cached"] is False


def test_provider_errors_and_timeouts_are_502_and_504(ai_client):
    class Failing:
        def __init__(self, exc):
            self.exc = exc

        def __call__(self, settings, spec):
            model = fake_model()
            exc = self.exc

            def boom(*args, **kwargs):
                raise exc

            object.__setattr__(model, "_generate", boom)
            return model

    body = {"prompt": "technical_summary", "tickers": ["005930"]}
    limited = ai_client(Failing(RuntimeError("429 Too Many Requests: quota exceeded")))
    response = limited.post("/ai/analysis", json=body, headers=AUTH)
    assert response.status_code == 502 and "quota exceeded" in response.json()["error"]["message"]
    slow = ai_client(Failing(TimeoutError("read timed out")))
    assert slow.post("/ai/analysis", json=body, headers=AUTH).status_code == 504


def test_keys_are_required_and_the_settings_to_add_are_named(make_client, ai_client):
    body = {"prompt": "technical_summary", "tickers": ["005930"]}
    no_keys = make_client(api_keys="")
    assert "API_KEYS" in no_keys.post("/ai/analysis", json=body, headers=AUTH).json()["error"]["message"]
    client = make_client()
    assert client.post("/ai/analysis", json=body).status_code == 401
    assert client.post("/ai/analysis", json=body, headers={"X-API-Key": KEY + "x"}).status_code == 401
    no_llm = client.post("/ai/analysis", json=body, headers=AUTH)
    assert no_llm.status_code == 503 and "GOOGLE_API_KEY" in no_llm.json()["error"]["message"]
    openai = client.post("/ai/analysis", json={**body, "provider": "openai"}, headers=AUTH)
    assert openai.status_code == 503 and "OPENAI_API_KEY" in openai.json()["error"]["message"]


def test_bad_requests_are_422_or_404_naming_what_to_fix(ai_client):
    client = ai_client(Factory(reply(SUMMARY)))

    def post(**body):
        return client.post("/ai/analysis", json=body, headers=AUTH)

    assert post(prompt="technical_summary").status_code == 422  # neither tickers nor strategy
    assert post(prompt="technical_summary", tickers=["005930", "000660"]).status_code == 422  # one stock only
    assert post(prompt="technical_summary", tickers=["$gt"]).status_code == 422
    unknown = post(prompt="technical_summary", tickers=["999990"])
    assert unknown.status_code == 404 and "005930" in unknown.json()["error"]["details"]["known"]
    assert post(prompt="nope", tickers=["005930"]).status_code == 404
    assert post(prompt="risk_review", tickers=["005930"] * 11 + [f"00{i}000" for i in range(11)]).status_code == 422
    assert post(prompt="technical_summary", tickers=["005930"], date="2024-12-21").status_code == 404


def test_the_rate_limit_holds_across_worker_processes(analysed):
    # no re-asks: each request reserves one model call, so the limit of 3 is three requests
    settings = api_settings(ai_rate_limit_per_hour=3, llm_parse_retries=0, google_api_key="g-key")
    factory = Factory(*[reply(SUMMARY)] * 5)
    workers = [TestClient(create_app(settings, storage=analysed, clock=lambda: NOW, llm_factory=factory))
               for _ in range(2)]
    analysed.access.rate_limits.delete_many({})
    analysed.ai.ai_results.delete_many({})
    bodies = [{"prompt": "technical_summary", "tickers": ["005930"], "date": day}
              for day in ("2024-12-20", "2024-12-19", "2024-12-18", "2024-12-17", "2024-12-16")]
    statuses = [workers[i % 2].post("/ai/analysis", json=b, headers=AUTH).status_code for i, b in enumerate(bodies)]
    assert statuses == [200, 200, 200, 429, 429]  # the 4th request is over the limit, whichever worker serves it
    assert factory.calls == 3
    limited = workers[0].post("/ai/analysis", json=bodies[3], headers=AUTH)
    assert int(limited.headers["Retry-After"]) > 0 and limited.json()["error"]["code"] == "rate_limited"


def test_a_request_refused_before_the_llm_does_not_use_up_the_hourly_limit(analysed):
    settings = api_settings(ai_rate_limit_per_hour=2, llm_parse_retries=1)  # no LLM configured: 503 naming it
    client = TestClient(create_app(settings, storage=analysed, clock=lambda: NOW))
    analysed.access.rate_limits.delete_many({})
    analysed.ai.ai_results.delete_many({})
    bodies = [{"prompt": "technical_summary", "tickers": ["005930"]}, {"prompt": "nope", "tickers": ["005930"]},
              {"prompt": "technical_summary", "tickers": ["999990"]}] * 2
    statuses = [client.post("/ai/analysis", json=b, headers=AUTH).status_code for b in bodies]
    assert statuses == [503, 404, 404] * 2  # never a 429: none of them reached a model
    assert analysed.access.rate_limits.count_documents({}) == 0


def test_a_stocks_stored_analyses_are_listed_newest_first(ai_client):
    client = ai_client(Factory(reply(SUMMARY)))
    body = {"prompt": "technical_summary", "tickers": ["005930"]}
    older = client.post("/ai/analysis", json={**body, "date": "2024-11-29"}, headers=AUTH).json()["results"][0]
    newer = client.post("/ai/analysis", json=body, headers=AUTH).json()["results"][0]
    listed = client.get("/ai/analysis", params={"ticker": "005930"}).json()
    assert listed["ticker"] == "005930"
    assert [i["id"] for i in listed["items"]] == [newer["id"], older["id"]]
    first = listed["items"][0]
    assert first["prompt"] == "technical_summary" and first["data_date"] == "2024-12-20"
    assert first["result"]["summary"] == "Rising." and first["status"] == "ok" and "raw_reply" not in first
    assert client.get("/ai/analysis", params={"ticker": "005930", "limit": 1}).json()["items"] == listed["items"][:1]
    assert client.get("/ai/analysis", params={"ticker": "000660"}).json()["items"] == []
    assert client.get("/ai/analysis", params={"ticker": "5930"}).status_code == 422
    assert client.get("/ai/analysis").status_code == 422


def test_a_body_that_is_not_json_is_a_400_saying_where_it_breaks(ai_client):
    client = ai_client(Factory(reply(SUMMARY)))
    headers = {**AUTH, "content-type": "application/json"}
    broken = client.post("/ai/analysis", content='{"prompt": ', headers=headers)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "bad_request"
    assert broken.json()["error"]["message"] == (
        "the body is not valid JSON (it breaks at character 11); send a JSON object")
    assert "400" in client.get("/openapi.json").json()["paths"]["/ai/analysis"]["post"]["responses"]
    for body, what in (("", "missing"), ("[1, 2]", "not a JSON object")):
        wrong = client.post("/ai/analysis", content=body, headers=headers)
        assert wrong.status_code == 422 and wrong.json()["error"]["message"].startswith(f"the body is {what}")


@pytest.mark.parametrize(("body", "says"), [
    ({"prompt": "technical_summary"}, "give either tickers or strategy_name"),
    ({"prompt": "technical_summary", "tickers": ["005930"], "params": {"x": 1}}, "params go with strategy_name"),
    ({"prompt": "technical_summary", "tickers": ["005930"], "model": "gemini-2.5-flash",
      "models": [{"model": "gemini-2.5-flash"}]}, "give model or models"),
])
def test_a_json_object_with_fields_that_do_not_go_together_is_a_422_saying_which(ai_client, body, says):
    response = ai_client(Factory(reply(SUMMARY))).post("/ai/analysis", json=body, headers=AUTH)
    assert response.status_code == 422 and response.json()["error"]["message"].startswith(says)
