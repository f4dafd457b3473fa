"""The predict_outlook prompt's own checks: the ticker asked, each horizon once, a direction that agrees with the
probability, a one-line reason."""

from __future__ import annotations

from typing import Any

import pytest

from lib.ai.prompts import discover_prompts
from tests.test_prompts import sample_data

PROMPT = discover_prompts()["predict_outlook"]


def answer(**change: Any) -> dict[str, Any]:
    horizons = [{"sessions": h, "probability": 0.7, "direction": "up", "reason": "above its 20-day mean",
                 "citations": ["N1"]} for h in (5, 10, 20)]
    return {"ticker": "000930", "horizons": horizons} | change


def check(reply: dict[str, Any]) -> None:
    PROMPT.check(PROMPT.output_model.model_validate(reply), sample_data(1))


def test_a_complete_answer_citing_a_given_id_passes_and_either_direction_is_accepted_at_exactly_half():
    check(answer())
    for direction in ("up", "down"):
        check(answer(horizons=[{**h, "probability": 0.5, "direction": direction} for h in answer()["horizons"]]))


@pytest.mark.parametrize(("change", "said"), [
    ({"ticker": "005930"}, "must be about 000930"),
    ({"horizons": answer()["horizons"][:2]}, "exactly once"),
    ({"horizons": answer()["horizons"] + answer()["horizons"][:1]}, "exactly once"),
    ({"horizons": [{**h, "direction": "down"} for h in answer()["horizons"]]}, "disagrees with probability"),
    ({"horizons": [{**h, "reason": "line one\nline two"} for h in answer()["horizons"]]}, "one non-empty line"),
    ({"horizons": [{**h, "reason": " "} for h in answer()["horizons"]]}, "one non-empty line"),
    ({"horizons": [{**h, "citations": ["D7"]} for h in answer()["horizons"]]}, "cites D7"),
], ids=["other_ticker", "missing_horizon", "repeated_horizon", "direction_against", "two_lines", "blank_reason",
        "unknown_id"])
def test_an_answer_breaking_a_rule_is_refused_with_what_to_fix(change, said):
    with pytest.raises(ValueError, match=said):
        check(answer(**change))


def test_a_probability_outside_0_to_1_fails_the_schema():
    with pytest.raises(ValueError, match="less than or equal to 1"):
        PROMPT.output_model.model_validate(answer(horizons=[{**answer()["horizons"][0], "probability": 1.2}]))
