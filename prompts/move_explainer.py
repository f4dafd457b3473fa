"""Why did this stock move on this day: the day's return and volume against its recent ones, explained from the
filings, news and macro readings known by the day's end, each driver citing the ids it rests on. "No cited
cause" is an honest, valid answer."""

from __future__ import annotations

import statistics
from typing import Any, Literal

from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel, Field

from lib.ai.prompts import (
    CITE_RULE,
    UNTRUSTED_RULE,
    AnalysisData,
    Prompt,
    StockData,
    context_block,
    data_block,
    stock_brief,
)

RECENT = 20  # traded days the day's move is compared with

# What a driver of each kind may cite: a filing driver rests on filings, and so on.
PREFIX = {"filing": "D", "news": "N", "macro": "M"}


class Input(BaseModel):
    date: str
    ticker: str = Field(description="the requested ticker (a validated code, outside the data)")
    move: str = Field(description="the day's return and volume against the recent days, in a data block")
    stock: str = Field(description="the stock's data in a data block")
    context: str = Field(description="filings, news and macro known by the day's end, with ids, in a data block")


class Driver(BaseModel):
    factor: str = Field(description="what moved the stock, in one sentence")
    kind: Literal["filing", "news", "macro", "market_or_technical"]
    citations: list[str] = Field(default_factory=list, description="ids of the context items it rests on")


class Output(BaseModel):
    ticker: str
    explanation: str = Field(description="two to four sentences")
    drivers: list[Driver] = Field(description="most important first; empty when nothing in the data explains it")
    explained: Literal["cited_cause", "no_cited_cause"] = Field(
        description="cited_cause: a cited filing, story or reading explains the move; no_cited_cause: none does")
    confidence: float = Field(ge=0, le=1)


def _pct(new: float | None, old: float | None) -> float | None:
    return None if new is None or not old else (new / old - 1) * 100


def day_move(stock: StockData, day: str) -> dict[str, Any]:
    """The last stored day's close-to-close return (%) and volume against the RECENT traded days before it."""
    rows = stock.rows
    if len(rows) < 2:
        return {"date": rows[-1]["date"] if rows else None, "note": "fewer than two traded days stored"}
    last = rows[-1]
    closes = [r.get("close") for r in rows]
    returns = [_pct(b, a) for a, b in zip(closes[:-1], closes[1:], strict=True)]
    before = [r for r in returns[:-1][-RECENT:] if r is not None]
    volumes = [r.get("volume") for r in rows[:-1][-RECENT:] if r.get("volume")]
    move: dict[str, Any] = {
        "date": last["date"], "close_krw": last.get("close"), "previous_close_krw": closes[-2],
        "return_pct": returns[-1], "volume_shares": last.get("volume"),
        f"mean_abs_return_pct_{RECENT}d": statistics.fmean(abs(r) for r in before) if before else None,
        f"return_stdev_pct_{RECENT}d": statistics.stdev(before) if len(before) > 1 else None,
        f"mean_volume_shares_{RECENT}d": statistics.fmean(volumes) if volumes else None,
    }
    spread = move[f"return_stdev_pct_{RECENT}d"]
    move["return_in_stdevs"] = returns[-1] / spread if returns[-1] is not None and spread else None
    mean_volume = move[f"mean_volume_shares_{RECENT}d"]
    move["volume_vs_mean"] = last["volume"] / mean_volume if last.get("volume") and mean_volume else None
    if last["date"] != day:
        move["note"] = f"no bar stored on {day}: this is the last traded day before it"
    return move


def build_input(data: AnalysisData) -> Input:
    stock = data.stocks[0]
    return Input(date=data.date, ticker=stock.ticker, move=data_block(day_move(stock, data.date)),
                 stock=data_block(stock_brief(stock, rows=10)), context=context_block(data))


def check(output: Output, data: AnalysisData) -> None:
    """The ticker asked; a driver of a kind cites only items of that kind; a cited cause cites something."""
    if output.ticker != data.stocks[0].ticker:
        raise ValueError(f"the result must be about {data.stocks[0].ticker}; it had {output.ticker}")
    for driver in output.drivers:
        prefix = PREFIX.get(driver.kind)
        wrong = [c for c in driver.citations if prefix is not None and not c.startswith(prefix)]
        if wrong:
            raise ValueError(f"a {driver.kind} driver cites {', '.join(wrong)}: cite {prefix}.. ids for it")
    if output.explained == "cited_cause" and not any(d.citations for d in output.drivers):
        raise ValueError("explained is cited_cause but no driver cites an id: cite it, or say no_cited_cause")


TEMPLATE = ChatPromptTemplate.from_messages([
    ("system", "You explain daily moves of Korean stocks to a trader. Use only the data given; prices are KRW. "
               "Compare the day's return and volume with the recent days to say how unusual the move was, then "
               "look for its cause in the context. Never invent a filing, a headline or a value: if nothing in "
               "the context explains the move, say so (explained: no_cited_cause) and keep the confidence low. "
               + CITE_RULE + " " + UNTRUSTED_RULE),
    ("human", "Why did {ticker} move on {date}?\n\nThe move: {move}\n\nRecent data: {stock}\n\nContext: {context}"),
])

PROMPT = Prompt(
    name="move_explainer",
    version="1",
    description="Why one stock moved on a day: its return and volume against recent days, drivers citing filings "
                "and news",
    template=TEMPLATE, input_model=Input, output_model=Output, build_input=build_input,
    min_tickers=1, max_tickers=1, check_output=check,
)
