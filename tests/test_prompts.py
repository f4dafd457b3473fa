"""The prompt registry: every registered prompt honours the contract; a broken module is reported and skipped."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from pydantic import BaseModel

from lib.prompts import AnalysisData, PickData, Prompt, StockData, StrategyData, discover_prompts

REGISTRY = discover_prompts()


def sample_data(count: int) -> AnalysisData:
    stocks = [
        StockData(
            ticker=f"00{i}930", name=f"종목{i}", market="KOSPI", market_cap=1e12,
            rows=[{"date": "2024-12-19", "close": 100.0 + i}, {"date": "2024-12-20", "close": 101.0 + i}],
            latest={"close": 101.0 + i, "rsi_14": 55.5},
            pick=PickData(score=1.5, reason=f"reason {i}", values={"close": 101.0 + i}),
        )
        for i in range(count)
    ]
    strategy = StrategyData(name="golden_cross", description="d", params={"fast": 20}, track_record={"picks": 3})
    return AnalysisData(date="2024-12-20", stocks=stocks, strategy=strategy)


def test_the_three_prompts_are_registered_and_nothing_was_skipped():
    assert {"technical_summary", "picks_ranking", "risk_review"} <= set(REGISTRY.prompts)
    assert REGISTRY.errors == ()


@pytest.mark.parametrize("prompt", list(REGISTRY), ids=lambda p: p.name)
def test_prompt_contract(prompt: Prompt):
    assert prompt.version and prompt.description and "\n" not in prompt.description
    data = sample_data(prompt.min_tickers)
    before = data.model_copy(deep=True)
    variables = prompt.variables(data)
    assert data == before  # building the input does not touch the data
    assert set(variables) == set(prompt.template.input_variables)
    messages = prompt.messages(variables)
    text = " ".join(str(m.content) for m in messages)
    for stock in data.stocks:
        assert stock.ticker in text and "101" in text  # the stored data reaches the model
    assert prompt.template_hash == prompt.template_hash and len(prompt.template_hash) == 16
    json.dumps(prompt.output_schema)  # GET /prompts serves it
    assert issubclass(prompt.output_model, BaseModel)
    assert 1 <= prompt.min_tickers <= prompt.max_tickers


def test_a_broken_prompt_module_is_reported_and_skipped(tmp_path, monkeypatch):
    package = tmp_path / "prompts_under_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "broken.py").write_text("import does_not_exist\n")
    (package / "mismatch.py").write_text(textwrap.dedent('''
        from langchain_core.prompts import ChatPromptTemplate
        from pydantic import BaseModel
        from lib.prompts import Prompt

        class In(BaseModel):
            other: str

        class Out(BaseModel):
            text: str

        PROMPT = Prompt(name="mismatch", version="1", description="variables differ",
                        template=ChatPromptTemplate.from_messages([("human", "{stocks}")]),
                        input_model=In, output_model=Out, build_input=lambda d: In(other=""))
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = discover_prompts("prompts_under_test")
    assert len(registry) == 0
    errors = dict(registry.errors)
    assert "ModuleNotFoundError" in errors["prompts_under_test.broken"]
    assert "template variables" in errors["prompts_under_test.mismatch"]
    sys.modules.pop("prompts_under_test", None)
