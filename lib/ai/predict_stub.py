"""Offline stub models for the predict_outlook prompt (the demo's leaderboard): rule-based, NOT LLMs, and they
read only the messages they are sent (the stock's stored days up to the cutoff), never the future.

- `stub-momentum`: the probability of beating the median leans with the stock's return over its last 20 traded
  days (0.5 + 2 x that return, held within 0.2..0.8), the same for every horizon.
- `stub-even`: 0.5 for every stock and horizon (no edge claimed: its Brier skill must come out near zero).

Their skill is whatever the scoring measures; nothing here promises one. They go through the same structured
call, checks and storage as a real model (AI_PREDICT_MODELS=openai:stub-momentum,openai:stub-even with
`stub_predict_factory`)."""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from lib.ai.llm import ModelSpec
from lib.ai.prompts import DATA_CLOSE, DATA_OPEN
from lib.ai.stub import RuleChatModel
from lib.config_predict import HORIZONS

STUB_MODELS = ("stub-momentum", "stub-even")
LOOKBACK = 20  # traded days of the momentum rule
_ASKED = re.compile(r"will (\S+) beat the market's median")


def _stock_block(text: str) -> dict[str, Any]:
    for part in text.split(DATA_OPEN)[1:]:
        block = json.loads(part.split(DATA_CLOSE)[0])
        if isinstance(block, dict) and "recent_days" in block:
            return block
    return {}


def momentum(text: str) -> tuple[float, str]:
    """The momentum rule's probability and reason for the stock in the prompt text."""
    closes = [r.get("close") for r in _stock_block(text).get("recent_days", []) if r.get("close")]
    if len(closes) < 2:
        return 0.5, "too few stored days for the momentum rule (stub rule, not an LLM)"
    start = closes[-LOOKBACK - 1] if len(closes) > LOOKBACK else closes[0]
    change = closes[-1] / start - 1
    probability = round(min(0.8, max(0.2, 0.5 + 2 * change)), 3)
    return probability, f"{min(LOOKBACK, len(closes) - 1)}-day return {change:+.1%} (stub momentum rule, not an LLM)"


def predict_answer(model: str, text: str) -> dict[str, Any]:
    """The stub's predict_outlook answer to the human message `text` ({} when it is not that prompt)."""
    asked = _ASKED.search(text)
    if asked is None:
        return {}
    if model == "stub-momentum":
        probability, reason = momentum(text)
    else:
        probability, reason = 0.5, "no edge claimed (stub answering 0.5, not an LLM)"
    direction = "down" if probability < 0.5 else "up"
    return {"ticker": asked.group(1), "horizons": [
        {"sessions": h, "probability": probability, "direction": direction, "reason": reason, "citations": []}
        for h in HORIZONS]}


class PredictStub(RuleChatModel):
    """A prediction stub rule as a chat model: it reads the human messages."""

    model: str = "stub-even"

    def answer(self, messages: list[BaseMessage]) -> dict[str, Any]:
        return predict_answer(self.model, " ".join(str(m.content) for m in messages if m.type == "human"))


def stub_predict_factory(settings: Any, spec: ModelSpec) -> BaseChatModel:
    """An llm factory (lib.ai.predict.LlmFactory) handing out the stub named by the spec's model."""
    if spec.model not in STUB_MODELS:
        raise ValueError(f"{spec.model} is not a prediction stub ({', '.join(STUB_MODELS)})")
    return PredictStub(model=spec.model)
