"""Risk review: volatility, drawdown from the high, trend breaks and crowding, per stock."""

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
    tickers: str = Field(description="the requested tickers, comma-separated (validated codes, outside the data)")
    stocks: str = Field(description="the stocks' data in a data block")
    context: str = Field(description="filings, news and macro known by the day's end, with ids, in a data block")


class Review(BaseModel):
    ticker: str
    risk_level: Literal["low", "medium", "high"]
    risks: list[str] = Field(description="concrete risks seen in the data")
    stop_level: float | None = Field(None, description="a price, KRW, below which the setup is broken")
    citations: list[str] = Field(default_factory=list, description="ids of the context items relied on")


class Output(BaseModel):
    reviews: list[Review]
    overall: str


def build_input(data: AnalysisData) -> Input:
    tickers = ", ".join(s.ticker for s in data.stocks)
    return Input(date=data.date, tickers=tickers, stocks=data_block([stock_brief(s, rows=30) for s in data.stocks]),
                 context=context_block(data))


TEMPLATE = ChatPromptTemplate.from_messages([
    ("system", "You are a risk manager reviewing Korean stocks before a purchase. Use only the data given: "
               "ATR and Bollinger width for volatility, distance from the 52-week high, trend and volume; filings "
               "(a rights issue, a corrected report) and news as event risks, the macro readings as the backdrop. "
               "Review every stock exactly once. " + CITE_RULE + " " + UNTRUSTED_RULE),
    ("human", "As of {date}, review the risks of each stock ({tickers}) and give a risk level and a stop level.\n\n"
              "Stocks: {stocks}\n\nContext: {context}"),
])

PROMPT = Prompt(
    name="risk_review",
    version="3",
    description="Risk review per stock: risk level, concrete risks in the data, a stop level",
    template=TEMPLATE, input_model=Input, output_model=Output, build_input=build_input,
    min_tickers=1, max_tickers=20, check_output=tickers_exactly(lambda out: [r.ticker for r in out.reviews]),
)
