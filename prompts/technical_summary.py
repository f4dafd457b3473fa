"""Technical summary of one stock: trend, levels and what the indicators say, from stored data only."""

from __future__ import annotations

from typing import Literal

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
    ticker: str = Field(description="the requested ticker (a validated code, outside the data)")
    stock: str = Field(description="the stock's data in a data block")
    context: str = Field(description="filings, news and macro known by the day's end, with ids, in a data block")


class Output(BaseModel):
    ticker: str
    trend: Literal["up", "down", "sideways"]
    summary: str = Field(description="three to five sentences")
    support: float | None = Field(None, description="nearest support price, KRW")
    resistance: float | None = Field(None, description="nearest resistance price, KRW")
    signals: list[str] = Field(description="indicator readings that matter now")
    confidence: float = Field(ge=0, le=1)
    citations: list[str] = Field(default_factory=list, description="ids of the context items relied on")


def build_input(data: AnalysisData) -> Input:
    return Input(date=data.date, ticker=data.stocks[0].ticker, stock=data_block(stock_brief(data.stocks[0], rows=40)),
                 context=context_block(data))


TEMPLATE = ChatPromptTemplate.from_messages([
    ("system", "You are a careful technical analyst of Korean stocks. Use only the data given; prices are KRW. "
               "Never invent values that are not in the data. The context may explain a gap or a volume spike. "
               + CITE_RULE + " " + UNTRUSTED_RULE),
    ("human", "As of {date}, summarise the technical picture of {ticker}: trend, nearest support and resistance, "
              "and which indicator readings matter now.\n\nData: {stock}\n\nContext: {context}"),
])

PROMPT = Prompt(
    name="technical_summary",
    version="3",
    description="Technical summary of one stock: trend, support and resistance, the indicator readings that matter",
    template=TEMPLATE, input_model=Input, output_model=Output, build_input=build_input,
    min_tickers=1, max_tickers=1, check_output=tickers_exactly(lambda out: [out.ticker]),
)
