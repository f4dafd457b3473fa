"""A LangChain fake chat model that supports structured output (the stock fakes do not), and a local stub
server answering like Gemini's and OpenAI's HTTP APIs, for the real langchain clients."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from operator import itemgetter
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import JsonOutputParser
from langchain_core.runnables import RunnableMap, RunnablePassthrough


class StructuredFakeChatModel(GenericFakeChatModel):
    """Answers with the given messages in turn; `with_structured_output` behaves like the providers' own
    (parse the reply as JSON; with include_raw a parse failure is returned, not raised). Records what it was
    sent."""

    received: list = []  # noqa: RUF012 - a pydantic field, copied per instance

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # noqa: ANN001, ANN202
        self.received.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    def with_structured_output(self, schema, *, method="json_schema", include_raw=False, **kwargs):  # noqa: ANN001, ANN201
        parser = JsonOutputParser()
        if not include_raw:
            return self | parser
        parse = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=self) | parse.with_fallbacks([fallback], exception_key="parsing_error")


def reply(content: Any, tokens: tuple[int, int] = (100, 20), model: str = "fake-model") -> AIMessage:
    """An AIMessage as a provider returns it: text (JSON-encoded when not a str), usage and metadata."""
    text = content if isinstance(content, str) else json.dumps(content)
    return AIMessage(
        content=text,
        usage_metadata={"input_tokens": tokens[0], "output_tokens": tokens[1], "total_tokens": sum(tokens)},
        response_metadata={"model_name": model, "finish_reason": "stop"},
    )


def fake_model(*replies: AIMessage | str) -> StructuredFakeChatModel:
    """A fake model answering these replies in turn."""
    return StructuredFakeChatModel(messages=iter(replies), received=[])


# --- local stub of the providers' HTTP APIs ----------------------------------------------------------------


def openai_body(text: str, model: str = "gpt-4o-mini") -> dict[str, Any]:
    """A chat.completion object as OpenAI documents it."""
    return {
        "id": "chatcmpl-stub", "object": "chat.completion", "created": 1_750_000_000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }


def gemini_body(text: str, model: str = "gemini-2.5-flash") -> dict[str, Any]:
    """A GenerateContentResponse as the Gemini API documents it."""
    return {
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 110, "candidatesTokenCount": 25, "totalTokenCount": 135},
        "modelVersion": model,
    }


class ProviderStub:
    """A local HTTP server on 127.0.0.1 (free port) answering POSTs from a queue of (status, body, delay)."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, Any, float]] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                stub.requests.append((self.path, body))
                status, answer, delay = stub.answers.pop(0) if stub.answers else (500, {"error": "no answer"}, 0)
                if delay:
                    time.sleep(delay)
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, status: int, body: Any, delay: float = 0.0) -> None:
        """Queue the next answer."""
        self.answers.append((status, body, delay))

    def close(self) -> None:
        """Stop the server."""
        self.server.shutdown()
        self.server.server_close()


