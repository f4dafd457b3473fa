"""Structured LLM calls: bounded re-asks on unparseable replies, usage summed, never a made-up result; the
real langchain clients against a local stub of each provider's HTTP API (malformed reply, 429, timeout)."""

from __future__ import annotations

import json
import time

import pytest
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from lib.ai.llm import LlmNotConfigured, ModelSpec, ProviderError, UnparseableReply, build_chat_model, structured_call
from lib.config import load_settings
from tests.llm_fakes import ProviderStub, fake_model, gemini_body, openai_body, reply


class Verdict(BaseModel):
    ticker: str
    score: float


GOOD = {"ticker": "005930", "score": 0.7}
ASK = [HumanMessage(content="Rate 005930.")]


def test_a_valid_reply_is_parsed_with_usage_model_and_finish_reason():
    call = structured_call(fake_model(reply(GOOD)), "gemini", ASK, Verdict, parse_retries=2)
    assert call.parsed == Verdict(**GOOD) and call.attempts == 1
    assert call.usage == {"input_tokens": 100, "output_tokens": 20, "total_tokens": 120}
    assert call.model_name == "fake-model" and call.finish_reason == "stop"


def test_an_unparseable_reply_is_asked_again_with_the_error_and_usage_adds_up():
    model = fake_model(reply("Sure! Here is my analysis: bullish."), reply(GOOD))
    call = structured_call(model, "openai", ASK, Verdict, parse_retries=2)
    assert call.parsed == Verdict(**GOOD) and call.attempts == 2
    assert "not valid JSON" in call.parse_errors[0] and call.usage["total_tokens"] == 240
    second = model.received[1]
    assert second[-2].content == "Sure! Here is my analysis: bullish." and "could not be used" in second[-1].content


def test_json_that_misses_the_schema_or_the_check_is_asked_again():
    model = fake_model(reply({"ticker": "005930"}), reply({"ticker": "000660", "score": 1}), reply(GOOD))

    def check(result):
        if result.ticker != "005930":
            raise ValueError("wrong ticker")

    call = structured_call(model, "gemini", ASK, Verdict, parse_retries=2, check=check)
    assert call.parsed.ticker == "005930" and call.attempts == 3
    assert "does not match the schema" in call.parse_errors[0] and "wrong ticker" in call.parse_errors[1]


def test_after_the_bounded_re_asks_the_call_fails_and_makes_nothing_up():
    model = fake_model(*(reply("not json") for _ in range(5)))
    with pytest.raises(UnparseableReply) as failure:
        structured_call(model, "gemini", ASK, Verdict, parse_retries=1)
    assert failure.value.call.parsed is None and failure.value.call.attempts == 2 == len(model.received)
    assert failure.value.call.raw_replies == ["not json", "not json"]


def test_the_schema_is_in_the_request_so_servers_without_structured_output_know_it():
    model = fake_model(reply(GOOD))
    structured_call(model, "openai", ASK, Verdict, parse_retries=0)
    assert '"score"' in model.received[0][-1].content and "JSON schema" in model.received[0][-1].content


def test_no_key_names_the_setting_to_add():
    with pytest.raises(LlmNotConfigured, match="GOOGLE_API_KEY"):
        build_chat_model(load_settings(env_file=None), ModelSpec("gemini", "gemini-2.5-flash", 0.2))
    with pytest.raises(LlmNotConfigured, match="OPENAI_API_KEY"):
        build_chat_model(load_settings(env_file=None), ModelSpec("openai", "gpt-4o-mini", 0.2))


# --- the real clients over HTTP against a local stub --------------------------------------------------------


@pytest.fixture
def stub():
    server = ProviderStub()
    yield server
    server.close()


def client_for(provider: str, stub: ProviderStub, **settings):
    values = {"llm_timeout_seconds": 1, "llm_sdk_retries": 0}
    values.update(settings)
    if provider == "openai":
        values |= {"openai_api_key": "sk-test", "openai_base_url": f"http://127.0.0.1:{stub.port}/v1"}
        model = "gpt-4o-mini"
    else:
        values |= {"google_api_key": "g-test", "gemini_base_url": f"http://127.0.0.1:{stub.port}"}
        model = "gemini-2.5-flash"
    return build_chat_model(load_settings(env_file=None, **values), ModelSpec(provider, model, 0.2))


BODIES = {"openai": openai_body, "gemini": gemini_body}
PATHS = {"openai": "/v1/chat/completions", "gemini": "/v1beta/models/gemini-2.5-flash:generateContent"}


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_real_client_parses_a_documented_reply_with_usage(stub, provider):
    stub.answer(200, BODIES[provider](json.dumps(GOOD)))
    call = structured_call(client_for(provider, stub), provider, ASK, Verdict, parse_retries=0)
    assert call.parsed == Verdict(**GOOD) and call.usage["total_tokens"] in (150, 135)
    assert call.finish_reason in ("stop", "STOP") and call.model_name
    path, body = stub.requests[0]
    assert path == PATHS[provider]
    if provider == "openai":
        assert body["response_format"]["type"] == "json_schema" and body["temperature"] == 0.2
    else:
        assert body["generationConfig"]["responseMimeType"] == "application/json"


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_real_client_malformed_reply_is_re_asked_then_refused(stub, provider):
    stub.answer(200, BODIES[provider]("I think Samsung looks strong {not json"))
    stub.answer(200, BODIES[provider](json.dumps({"ticker": "005930", "score": "high"})))
    with pytest.raises(UnparseableReply) as failure:
        structured_call(client_for(provider, stub), provider, ASK, Verdict, parse_retries=1)
    call = failure.value.call
    assert len(stub.requests) == 2 == call.requests  # each re-ask is a model call the rate limit counts
    assert call.parsed is None and call.raw_replies[0].startswith("I think")
    assert "not valid JSON" in call.parse_errors[0] and "does not match the schema" in call.parse_errors[1]


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_real_client_rate_limited_is_a_provider_error_after_the_configured_sdk_retries(stub, provider):
    limited = {"error": {"code": 429, "message": "Resource exhausted: quota", "status": "RESOURCE_EXHAUSTED"}}
    for _ in range(3):
        stub.answer(429, limited)
    with pytest.raises(ProviderError) as failure:
        structured_call(client_for(provider, stub, llm_sdk_retries=1), provider, ASK, Verdict, parse_retries=2)
    message = str(failure.value)
    assert not failure.value.timeout and ("429" in message or "quota" in message.lower()), message
    assert len(stub.requests) == 2  # one SDK retry, as set; no re-ask: a provider error is not a bad reply
    assert failure.value.call.requests == 1  # counted as one model call: the SDK's retry is not seen here


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_real_client_timeout_is_flagged_as_a_timeout(stub, provider):
    stub.answer(200, BODIES[provider](json.dumps(GOOD)), delay=3)
    started = time.monotonic()
    with pytest.raises(ProviderError) as failure:
        structured_call(client_for(provider, stub), provider, ASK, Verdict, parse_retries=2)
    assert failure.value.timeout and time.monotonic() - started < 2.5


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_real_client_garbage_http_body_is_a_provider_error(stub, provider):
    stub.answer(200, "<html>502 Bad Gateway</html>")
    with pytest.raises(ProviderError):
        structured_call(client_for(provider, stub), provider, ASK, Verdict, parse_retries=2)
    assert len(stub.requests) == 1
