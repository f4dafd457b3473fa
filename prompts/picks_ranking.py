"""Comparison and ranking of a screener's picks: which look strongest and why, from stored data only."""

from __future__ import annotations

from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel, Field

from lib.ai.prompts import (
    CITE_RULE,
    UNTRUSTED_RULE,
    AnalysisData,
    Prompt,
    context_block,
    data_block,
    stock_brief,
    tickers_exactly,
)


class Input(BaseModel):
    date: str
    tickers: str = Field(description="the requested tickers, comma-separated (validated codes, outside the data)")
    strategy: str = Field(description="the screener, its parameters and track record in a data block, or 'none'")
    stocks: str = Field(description="the stocks' data in a data block")
    context: str = Field(description="filings, news and macro known by the day's end, with ids, in a data block")


class Ranked(BaseModel):
    ticker: str
    rank: int = Field(ge=1, description="1 is the most attractive")
    score: float = Field(ge=0, le=100)
    rationale: str
    citations: list[str] = Field(default_factory=list, description="ids of the context items relied on")


class Output(BaseModel):
    ranking: list[Ranked]
    summary: str = Field(description="what separates the best from the rest")


def build_input(data: AnalysisData) -> Input:
    strategy = data_block(data.strategy.model_dump()) if data.strategy else "none"
    tickers = ", ".join(s.ticker for s in data.stocks)
    stocks = data_block([stock_brief(s) for s in data.stocks])
    return Input(date=data.date, tickers=tickers, strategy=strategy, stocks=stocks, context=context_block(data))


TEMPLATE = ChatPromptTemplate.from_messages([
    ("system", "You compare stocks a technical screener picked on the Korean market. Use only the data given; "
               "the screener's track record says how its past picks did. Rank every stock exactly once. A filing "
               "or news story may change the picture the screener saw. " + CITE_RULE + " " + UNTRUSTED_RULE),
    ("human", "Screener: {strategy}\n\nRank these picks of {date} ({tickers}) from most to least attractive, "
              "with a score from 0 to 100 and a short rationale each.\n\nStocks: {stocks}\n\nContext: {context}"),
])

PROMPT = Prompt(
    name="picks_ranking",
    version="3",
    description="Compare and rank a screener's picks (or any tickers) with a score and a rationale each",
    template=TEMPLATE, input_model=Input, output_model=Output, build_input=build_input,
    min_tickers=2, max_tickers=20, check_output=tickers_exactly(lambda out: [r.ticker for r in out.ranking]),
)
