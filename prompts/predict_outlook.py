"""A scored prediction for one stock and its day (issue 16): for each horizon of 5, 10 and 20 sessions, the
probability that the stock's forward return beats the universe's median return, a direction that agrees with it,
a one-line reason and the context ids it rests on. The answers are stored and later scored against what
happened (lib/ai/predict.py, lib/ai/scoring.py)."""

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
)
from lib.config_predict import HORIZONS

MAX_REASON_CHARS = 240  # one line a person reads in the predictions table


class Input(BaseModel):
    date: str
    ticker: str = Field(description="the requested ticker (a validated code, outside the data)")
    horizons: str = Field(description="the horizons asked, in sessions, comma-separated")
    stock: str = Field(description="the stock's data in a data block")
    context: str = Field(description="filings, news and macro known by the day's end, with ids, in a data block")


class HorizonCall(BaseModel):
    sessions: int = Field(description="the horizon in trading sessions after the day: 5, 10 or 20")
    probability: float = Field(ge=0, le=1, description="the probability that the stock's return over the horizon "
                                                       "beats the median return of the universe's stocks")
    direction: Literal["up", "down"] = Field(
        description="up: more likely than not to beat the median (probability above 0.5); down: below 0.5")
    reason: str = Field(description="one line, at most 240 characters")
    citations: list[str] = Field(default_factory=list, description="ids of the context items it rests on")


class Output(BaseModel):
    ticker: str
    horizons: list[HorizonCall] = Field(description="one entry per horizon asked, each exactly once")


def build_input(data: AnalysisData) -> Input:
    stock = data.stocks[0]
    return Input(date=data.date, ticker=stock.ticker, horizons=", ".join(str(h) for h in HORIZONS),
                 stock=data_block(stock_brief(stock, rows=30)), context=context_block(data))


def check(output: Output, data: AnalysisData) -> None:
    """The ticker asked; each horizon exactly once; the direction agrees with the probability (up above 0.5,
    down below it, either at exactly 0.5); a reason of one non-empty line."""
    if output.ticker != data.stocks[0].ticker:
        raise ValueError(f"the result must be about {data.stocks[0].ticker}; it had {output.ticker}")
    got = sorted(h.sessions for h in output.horizons)
    if got != sorted(HORIZONS):
        raise ValueError(f"give each horizon {', '.join(map(str, HORIZONS))} exactly once; the result had {got}")
    for call in output.horizons:
        if (call.direction == "up" and call.probability < 0.5) or (call.direction == "down" and call.probability > 0.5):
            raise ValueError(f"horizon {call.sessions}: direction {call.direction} disagrees with probability "
                             f"{call.probability} (up means above 0.5, down below 0.5)")
        reason = call.reason.strip()
        if not reason or "\n" in reason or len(reason) > MAX_REASON_CHARS:
            raise ValueError(f"horizon {call.sessions}: the reason must be one non-empty line of at most "
                             f"{MAX_REASON_CHARS} characters")


TEMPLATE = ChatPromptTemplate.from_messages([
    ("system", "You forecast Korean stocks for a trader who scores every forecast against what happens. Use only "
               "the data given; prices are KRW. For each horizon asked, give the probability that the stock's "
               "return from the day's close over that many trading sessions beats the median return of all the "
               "market's stocks over the same sessions. 0.5 means no edge: say so when the data gives none; a "
               "forecast is scored by its calibration, so do not overstate. The direction must agree: up when "
               "the probability is above 0.5, down when below. Give each horizon exactly once, with a reason of "
               "one line. " + CITE_RULE + " " + UNTRUSTED_RULE),
    ("human", "As of the close of {date}, will {ticker} beat the market's median return over the next {horizons} "
              "sessions?\n\nStock: {stock}\n\nContext: {context}"),
])

PROMPT = Prompt(
    name="predict_outlook",
    version="1",
    description="Probability that one stock beats the market's median return over 5, 10 and 20 sessions, scored "
                "later against outcomes",
    template=TEMPLATE, input_model=Input, output_model=Output, build_input=build_input,
    min_tickers=1, max_tickers=1, check_output=check,
)
