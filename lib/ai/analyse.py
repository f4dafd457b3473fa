"""LLM analysis of stored data: build a prompt's input from what the cron jobs stored, serve a result from
MongoDB when the same request on the same data was answered before, else ask each model and store the
result (raw reply, parse errors, usage, model, finish reason, latency, created time, and the context block it
was given: the ids it could cite and what each stands for)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel

from lib.ai.context import Context, build_context
from lib.ai.llm import LlmCall, ModelSpec, ProviderError, UnparseableReply, structured_call
from lib.ai.prompts import PROMPT_COLUMNS, AnalysisData, PickData, Prompt, StockData, StrategyData
from lib.analysis.indicators import INDICATOR_COLUMNS
from lib.config import Settings
from lib.log import get_logger
from lib.spine.registry import registry
from lib.storage import Storage, naive_utc
from lib.storage.dates import from_stored

log = get_logger("ai")
HISTORY_ROWS = 60  # traded days of each stock a prompt may see

LlmFactory = Callable[[Settings, ModelSpec], BaseChatModel]


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if number == number else None


def stock_data(storage: Storage, ticker: str, day: dt.date, pick: dict[str, Any] | None = None) -> StockData:
    """One stock's stored data up to `day` (its last HISTORY_ROWS traded days), for a prompt."""
    doc = storage.universe.ticker_doc(ticker) or {"ticker": ticker}
    rows = storage.analysis.recent_analysis(ticker, HISTORY_ROWS, end=day)
    compact = [
        {"date": from_stored(r["date"]).isoformat(), **{c: _number(r.get(c)) for c in PROMPT_COLUMNS}} for r in rows
    ]
    columns = dict.fromkeys(("open", "high", "low", *PROMPT_COLUMNS, *INDICATOR_COLUMNS))
    latest = {c: _number(rows[-1].get(c)) for c in columns} if rows else {}
    return StockData(
        ticker=ticker,
        name=doc.get("name"),
        market=doc.get("market"),
        market_cap=_number(doc.get("market_cap")),
        rows=compact,
        latest=latest,
        pick=PickData(score=pick["score"], reason=pick["reason"], values=pick.get("values", {})) if pick else None,
    )


def analysis_data(
    storage: Storage,
    tickers: Sequence[str],
    day: dt.date,
    picks: dict[str, dict[str, Any]] | None = None,
    strategy: StrategyData | None = None,
    context: Context | None = None,
) -> AnalysisData:
    """Everything the prompt may use, as of `day` (`context`: lib.ai.context.build_context's block)."""
    picks = picks or {}
    stocks = [stock_data(storage, t, day, picks.get(t)) for t in tickers]
    return AnalysisData(date=day.isoformat(), stocks=stocks, strategy=strategy, context=context)


def universe_context(storage: Storage, settings: Settings, tickers: Sequence[str], day: dt.date,
                     market: str | None = None) -> Context:
    """The context block of stocks of the universe (the market the screener's strategies pick from: the first,
    KRX's, or `market`'s), cut at the end of `day` in that market's zone."""
    datasets = registry()
    screened = datasets.screened(market)
    if screened is None:  # no market registers the universe: nothing to cut at, so nothing is read
        return Context(cutoff=f"{day.isoformat()} end of day")
    return build_context(storage, datasets, tickers, day, screened.tz, settings)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def cache_key(prompt: Prompt, spec: ModelSpec, tickers: Sequence[str], day: dt.date, variables: Any) -> str:
    """Prompt name, version and template hash, provider, model, temperature, output schema, sorted tickers,
    the data date, and a digest of the input (so a strategy's reasons and parameters count too)."""
    return _digest({
        "prompt": prompt.name, "version": prompt.version, "template": prompt.template_hash,
        "provider": spec.provider, "model": spec.model, "temperature": spec.temperature,
        "output_schema": _digest(prompt.output_schema), "tickers": sorted(tickers), "date": day.isoformat(),
        "input": _digest(variables),
    })


def _result_doc(
    call: LlmCall | None, spec: ModelSpec, base: dict[str, Any], status: str, error: str | None, now: dt.datetime
) -> dict[str, Any]:
    return {
        "_id": uuid.uuid4().hex,
        **base,
        "provider": spec.provider,
        "model": spec.model,
        "temperature": spec.temperature,
        "status": status,
        "error": error,
        "result": call.parsed.model_dump(mode="json") if call and call.parsed else None,
        "raw_reply": call.raw_replies[-1] if call and call.raw_replies else None,
        "raw_replies": call.raw_replies if call else [],
        "parse_error": call.parse_errors[-1] if call and call.parse_errors else None,
        "parse_errors": call.parse_errors if call else [],
        "attempts": call.attempts if call else 0,
        "model_calls": call.requests if call else 0,
        "usage": call.usage if call else {},
        "model_name": call.model_name if call else None,
        "finish_reason": call.finish_reason if call else None,
        "latency_ms": call.latency_ms if call else 0,
        "created_utc": naive_utc(now),
    }


def run_one(
    storage: Storage,
    settings: Settings,
    factory: LlmFactory,
    prompt: Prompt,
    data: AnalysisData,
    spec: ModelSpec,
    base: dict[str, Any],
    now: dt.datetime,
) -> dict[str, Any]:
    """One model asked and its result stored (`model_calls` says how many calls it made). A failure is stored
    too (never served from the cache) and has `error`. LlmNotConfigured propagates: it is the caller's 503."""
    variables = base["input"]
    llm = factory(settings, spec)
    def check(output: Any) -> None:
        prompt.check(output, data)

    try:
        call = structured_call(llm, spec.provider, prompt.messages(variables), prompt.output_model,
                               settings.llm_parse_retries, check)
        doc = _result_doc(call, spec, base, "ok", None, now)
    except UnparseableReply as exc:
        doc = _result_doc(exc.call, spec, base, "failed", str(exc), now)
        doc["error_kind"] = "unparseable"
    except ProviderError as exc:
        doc = _result_doc(exc.call, spec, base, "failed", str(exc), now)
        doc["error_kind"] = "timeout" if exc.timeout else "provider"
    storage.ai.save_ai_result(doc)
    if doc["status"] != "ok":
        log.warning("%s %s/%s failed: %s", prompt.name, spec.provider, spec.model, doc["error"])
    return {**doc, "cached": False}


class CallBudget(Protocol):
    """The model calls a caller may still make (the API's per-key hourly limit)."""

    def reserve(self, calls: int, models: int) -> None:
        """Take `calls` for `models` models before any is asked; raises when they are not left."""

    def refund(self, calls: int) -> None:
        """Give back reserved calls that were not made."""


def run_models(
    storage: Storage,
    settings: Settings,
    factory: LlmFactory,
    prompt: Prompt,
    data: AnalysisData,
    specs: Sequence[ModelSpec],
    base: dict[str, Any],
    now: dt.datetime,
    budget: CallBudget | None = None,
) -> list[dict[str, Any]]:
    """Each model's result, side by side (asked in parallel), in the order of `specs`; a model whose answer to
    the same request on the same data is stored is served from it (no call). Every model to ask is built first,
    so a provider that is not configured fails the request before anything is spent; then `budget` reserves
    every call they may make (LLM_PARSE_RETRIES re-asks included) and gets back the ones not made."""
    variables = prompt.variables(data)
    day = dt.date.fromisoformat(data.date)
    keys = [cache_key(prompt, spec, [s.ticker for s in data.stocks], day, variables) for spec in specs]
    stored = [storage.ai.cached_ai_result(key) for key in keys]
    asked = [spec for spec, doc in zip(specs, stored, strict=True) if doc is None]
    for spec in asked:
        factory(settings, spec)  # raises LlmNotConfigured before any model is called
    reserved = len(asked) * (settings.llm_parse_retries + 1)
    if budget is not None and reserved:
        budget.reserve(reserved, len(asked))

    def one(index: int) -> dict[str, Any]:
        if stored[index] is not None:
            return {**stored[index], "cached": True}
        spec_base = {**base, "cache_key": keys[index], "input": variables}
        if data.context is not None:  # what it could cite, and what each id stands for
            spec_base["context"] = data.context.model_dump(mode="json")
        return run_one(storage, settings, factory, prompt, data, specs[index], spec_base, now)

    if len(specs) == 1:
        docs = [one(0)]
    else:
        with ThreadPoolExecutor(max_workers=len(specs)) as pool:
            docs = list(pool.map(one, range(len(specs))))
    # Only after every model returned: on an unexpected error nothing is given back (never under-counted).
    if budget is not None and reserved:
        budget.refund(reserved - sum(d["model_calls"] for d in docs if not d["cached"]))
    return docs
