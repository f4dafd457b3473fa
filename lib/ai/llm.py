"""LLM providers (Gemini via langchain-google-genai, OpenAI-compatible via langchain-openai) and one
structured call with bounded re-asks.

Traps of the pinned versions, handled here:
- ChatOpenAI.with_structured_output(PydanticModel, method="json_schema") lets the openai SDK validate the
  reply, which raises a ValidationError before include_raw can keep the raw reply; its function-calling
  mode returns None on a plain-text reply. ChatGoogleGenerativeAI's parser raises OutputParserException.
  So both get a plain JSON-schema dict with include_raw=True (the SDK never parses), and we validate the
  reply with the prompt's pydantic model ourselves; `parsed=None` is a failure, never a result.
- SDK retries default high (Gemini 6 attempts, openai 2 retries): LLM_SDK_RETRIES sets both (Gemini counts
  attempts, so it gets retries + 1).
- A reply that does not validate is re-asked at most LLM_PARSE_RETRIES times, with the error; after that the
  call fails. No default result is ever made up."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.exceptions import ModelTimeoutError
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import BaseModel, ValidationError

from lib.config import Settings
from lib.errors import ConfigError, PipelineError

Provider = Literal["gemini", "openai"]
DEFAULT_MODELS: dict[str, str] = {"gemini": "gemini-2.5-flash", "openai": "gpt-4o-mini"}
MAX_REASON = 300


class LlmNotConfigured(ConfigError):
    """The provider's key (or base URL) is not set: the message names the setting."""


class ProviderError(PipelineError):
    """The provider failed (HTTP error, rate limit, malformed answer); `timeout` when it did not answer. `call`
    holds what the structured call had made by then (its model calls count against the rate limit)."""

    def __init__(self, message: str, timeout: bool = False, call: LlmCall | None = None) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.call = call


class UnparseableReply(PipelineError):
    """Every reply, re-asks included, failed the prompt's output schema."""

    def __init__(self, message: str, call: LlmCall) -> None:
        super().__init__(message)
        self.call = call


@dataclass(frozen=True)
class ModelSpec:
    """Which model answers: provider, model name, temperature."""

    provider: Provider
    model: str
    temperature: float


@dataclass
class LlmCall:
    """What one structured call cost and returned, attempt by attempt."""

    parsed: BaseModel | None = None
    raw_replies: list[str] = field(default_factory=list)
    parse_errors: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    model_name: str | None = None
    finish_reason: str | None = None
    latency_ms: int = 0
    requests: int = 0  # model calls made (a call the provider failed included): what the rate limit counts

    @property
    def attempts(self) -> int:
        """Replies received."""
        return len(self.raw_replies)


def allowed_models(settings: Settings) -> list[str]:
    """The model names a request may ask for: LLM_ALLOWED_MODELS, else each provider's default model (LLM_MODEL
    for LLM_PROVIDER)."""
    if settings.llm_allowed_models:
        return list(settings.llm_allowed_models)
    defaults = dict(DEFAULT_MODELS)
    if settings.llm_model:
        defaults[settings.llm_provider] = settings.llm_model
    return list(dict.fromkeys(defaults.values()))


def configured(settings: Settings, provider: Provider) -> bool:
    """Whether the provider has what it needs to be called."""
    if provider == "gemini":
        return settings.google_api_key is not None
    return settings.openai_api_key is not None or settings.openai_base_url is not None


def build_chat_model(settings: Settings, spec: ModelSpec) -> BaseChatModel:
    """The langchain chat model for `spec`, with low SDK retries and the settings' timeout."""
    if spec.provider == "gemini":
        if settings.google_api_key is None:
            raise LlmNotConfigured("no LLM configured: set GOOGLE_API_KEY (LLM_PROVIDER=gemini) on the server")
        from langchain_google_genai import ChatGoogleGenerativeAI

        return ChatGoogleGenerativeAI(
            model=spec.model,
            google_api_key=settings.google_api_key,
            temperature=spec.temperature,
            max_retries=settings.llm_sdk_retries + 1,  # Gemini counts attempts; 0 would mean its default
            timeout=settings.llm_timeout_seconds,
            base_url=settings.gemini_base_url,
        )
    if not configured(settings, "openai"):
        raise LlmNotConfigured(
            "no LLM configured: set OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server) with "
            "LLM_PROVIDER=openai on the server"
        )
    from langchain_openai import ChatOpenAI

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    return ChatOpenAI(
        model=spec.model,
        api_key=key,
        base_url=settings.openai_base_url,
        temperature=spec.temperature,
        max_retries=settings.llm_sdk_retries,
        timeout=settings.llm_timeout_seconds,
    )


def response_schema(provider: str, output_model: type[BaseModel]) -> dict[str, Any]:
    """The output schema as each provider's structured-output mode takes it, as a plain dict so that no SDK
    parses the reply itself."""
    schema = output_model.model_json_schema()
    if provider == "openai":
        return {"name": output_model.__name__, "schema": schema, "strict": False}
    return schema


def _text(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content or "")


def _add_usage(call: LlmCall, message: Any) -> None:
    usage = getattr(message, "usage_metadata", None) or {}
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        if isinstance(usage.get(key), int):
            call.usage[key] = call.usage.get(key, 0) + usage[key]
    meta = getattr(message, "response_metadata", None) or {}
    call.model_name = meta.get("model_name") or meta.get("model") or call.model_name
    reason = meta.get("finish_reason")
    call.finish_reason = str(getattr(reason, "name", reason)) if reason is not None else call.finish_reason


def _timed_out(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = current.__class__.__name__
        if isinstance(current, ModelTimeoutError | TimeoutError) or "Timeout" in name:
            return True
        current = current.__cause__ or current.__context__
    return False


def provider_error(exc: Exception) -> ProviderError:
    """The provider's failure as one line (its reason, clipped), flagged when it was a timeout."""
    text = " ".join(str(exc).split())
    if len(text) > MAX_REASON:
        text = text[: MAX_REASON - 3] + "..."
    if _timed_out(exc):
        return ProviderError(f"the provider did not answer in time ({exc.__class__.__name__})", timeout=True)
    return ProviderError(f"{exc.__class__.__name__}: {text}")


def structured_call(
    llm: BaseChatModel,
    provider: str,
    messages: list[BaseMessage],
    output_model: type[BaseModel],
    parse_retries: int,
    check: Any = None,
) -> LlmCall:
    """Ask for a reply matching `output_model`; re-ask at most `parse_retries` times with the error when a
    reply does not validate (or fails `check`). Raises ProviderError (HTTP, timeout) or UnparseableReply."""
    runnable = llm.with_structured_output(
        response_schema(provider, output_model), method="json_schema", include_raw=True
    )
    # The schema goes into the last message too: OpenAI-compatible servers that ignore response_format
    # still learn what to answer.
    hint = ("\n\nReply with one JSON object, and nothing else, that validates against this JSON schema: "
            + json.dumps(output_model.model_json_schema(), separators=(",", ":")))
    last = messages[-1]
    conversation = [*messages[:-1], last.model_copy(update={"content": _text(last) + hint})]
    call = LlmCall()
    started = time.monotonic()
    try:
        for attempt in range(parse_retries + 1):
            call.requests += 1
            try:
                out = runnable.invoke(conversation)
            except Exception as exc:  # noqa: BLE001 - every SDK failure becomes a provider error
                failure = provider_error(exc)
                failure.call = call
                raise failure from exc
            raw = out.get("raw")
            text = _text(raw)
            call.raw_replies.append(text)
            _add_usage(call, raw)
            error = out.get("parsing_error")
            parsed = out.get("parsed")
            problem: str | None = None
            if error is not None:
                problem = f"the reply is not valid JSON: {' '.join(str(error).split())[:MAX_REASON]}"
            elif parsed is None:
                problem = "the reply had no structured output"
            else:
                try:
                    result = output_model.model_validate(parsed)
                    if check is not None:
                        check(result)
                except (ValidationError, ValueError) as exc:
                    problem = f"the reply does not match the schema: {' '.join(str(exc).split())[:MAX_REASON]}"
                else:
                    call.parsed = result
                    return call
            call.parse_errors.append(problem)
            if attempt < parse_retries:
                conversation = [
                    *conversation,
                    AIMessage(content=text[:4000]),
                    HumanMessage(content=f"That reply could not be used: {problem}. Answer again with only the "
                                 "JSON object."),
                ]
        raise UnparseableReply(
            f"the model's reply did not match the prompt's schema after {call.attempts} attempt(s): "
            f"{call.parse_errors[-1]}",
            call,
        )
    finally:
        call.latency_ms = int((time.monotonic() - started) * 1000)
