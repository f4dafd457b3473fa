"""An offline stub model for the demo: rule-based, NOT an LLM. It answers the move_explainer prompt from the data
blocks it is sent (the day's move and the context block), citing the filings and stories of the stock dated on
the move's day or the two days before; anything else gets an empty answer (refused by the prompt's schema).

It goes through the same structured call, checks and storage as a real model, so the demo shows a cited,
stored analysis without a key or a network. Its output is labelled as a stub wherever the demo prints it."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda

from lib.ai.llm import ModelSpec
from lib.ai.prompts import DATA_CLOSE, DATA_OPEN

STUB_SPEC = ModelSpec("openai", "offline-stub", 0.0)  # served through the openai-shaped path; never sent anywhere
STUB_LABEL = "offline stub model (rule-based, not an LLM)"
NEAR_DAYS = 2  # items dated this many days before the move still count as near it
_ASKED = re.compile(r"Why did (\w+) move on (\d{4}-\d{2}-\d{2})\?")


def _blocks(text: str) -> list[Any]:
    """The JSON of every data block in the text."""
    found = []
    for part in text.split(DATA_OPEN)[1:]:
        found.append(json.loads(part.split(DATA_CLOSE)[0]))
    return found


def move_answer(text: str) -> dict[str, Any]:
    """The stub's move_explainer answer for the human message `text` ({} when it is not that prompt)."""
    asked = _ASKED.search(text)
    if asked is None:
        return {}
    ticker = asked.group(1)
    blocks = _blocks(text)
    move = next((b for b in blocks if isinstance(b, dict) and "return_pct" in b), {})
    context = next((b for b in blocks if isinstance(b, dict) and "known_until" in b), {})
    day = dt.date.fromisoformat(move.get("date") or asked.group(2))
    near = {(day - dt.timedelta(days=n)).isoformat() for n in range(NEAR_DAYS + 1)}
    drivers = [{"factor": f"filing {f['date']}: {f['title']}", "kind": "filing", "citations": [f["id"]]}
               for f in context.get("filings", []) if f["ticker"] == ticker and f["date"] in near]
    drivers += [{"factor": f"news {s['published']}: {s['title']}", "kind": "news", "citations": [s["id"]]}
                for s in context.get("news", []) if s["ticker"] == ticker and s["published"][:10] in near]
    change, spread = move.get("return_pct"), move.get("return_in_stdevs")
    size = "n/a" if change is None else f"{change:+.2f}%"
    usual = "" if spread is None else f" ({abs(spread):.1f} standard deviations of its last 20 days)"
    volume = move.get("volume_vs_mean")
    said = f"{ticker} moved {size} on {day}{usual}" + ("" if volume is None else f", volume {volume:.1f}x its mean")
    if drivers:
        said += f"; cited: {len(drivers)} filing(s) or story(ies) dated that day or the {NEAR_DAYS} days before."
    else:
        said += f"; no filing or story dated that day or the {NEAR_DAYS} days before is in the context: no cited cause."
    return {"ticker": ticker, "explanation": said + " (Written by the offline stub model, not an LLM.)",
            "drivers": drivers[:5], "explained": "cited_cause" if drivers else "no_cited_cause",
            "confidence": 0.3 if drivers else 0.1}


class RuleChatModel(BaseChatModel):
    """An offline rule as a langchain chat model: `answer(messages)` gives the reply's JSON, sent like a
    provider's (structured output: the raw reply and its parsed JSON). Not an LLM."""

    model: str = STUB_SPEC.model

    @property
    def _llm_type(self) -> str:
        return "offline-stub"

    def answer(self, messages: list[BaseMessage]) -> dict[str, Any]:
        """The reply's JSON to these messages."""
        raise NotImplementedError

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        reply = AIMessage(content=json.dumps(self.answer(messages), ensure_ascii=False),
                          response_metadata={"model_name": self.model, "finish_reason": "stop"})
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def with_structured_output(self, schema: Any, *, include_raw: bool = False, **kwargs: Any) -> Runnable:
        """The reply and its JSON, as `structured_call` expects them."""

        def answer(messages: Any) -> dict[str, Any]:
            raw = self.invoke(messages)
            return {"raw": raw, "parsed": json.loads(str(raw.content)), "parsing_error": None}

        return RunnableLambda(answer)


class StubChatModel(RuleChatModel):
    """The move_explainer stub as a chat model: it reads the last message."""

    def answer(self, messages: list[BaseMessage]) -> dict[str, Any]:
        return move_answer(str(messages[-1].content) if messages else "")


def stub_factory(settings: Any, spec: ModelSpec) -> BaseChatModel:
    """An llm factory (lib.ai.analyse.LlmFactory) that always hands out the stub."""
    return StubChatModel()
