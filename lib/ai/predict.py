"""The prediction batch of one session day (issue 16): each stock of the day (lib/ai/predict_plan.py) gets ONE
input (its stored data and context block, cut at the day's end) asked of every model of AI_PREDICT_MODELS, and
each answer or failure is stored at once (storage.predictions, its documented shape).

- A (stock, day, model, prompt version) stored as an answer or a final failure is never asked again: a batch cut
  by a crash resumes where it stopped.
- A reply that breaks the prompt's schema or checks is re-asked LLM_PARSE_RETRIES times, then stored failed
  (error_kind "unparseable", parse_ok False): final, it counts against the model's parse rate.
- A provider failure (timeout, HTTP 5xx, rate limit, refused key) is stored failed too (error_kind "timeout" or
  "provider", parse_ok None) so nothing is lost from the record, but it is asked again by the next run before
  the deadline (the morning run); the run ends failed (exit 1, alerted) while any such failure remains.
- made_utc is the run's clock when the answer is stored; a prediction made after the next session's open is
  stored `late` and never scored. A day before the model's knowledge cutoff is stored `memorised`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from lib.ai.analyse import analysis_data, universe_context
from lib.ai.context import Context
from lib.ai.llm import (
    LlmCall,
    LlmNotConfigured,
    ModelSpec,
    ProviderError,
    UnparseableReply,
    build_chat_model,
    structured_call,
)
from lib.ai.predict_plan import batch_stocks, cost_usd, deadline, memorised
from lib.ai.prompts import AnalysisData, Prompt, discover_prompts
from lib.analysis.screener import discover as discover_strategies
from lib.config import Settings
from lib.context.read import day_cutoff
from lib.errors import ConfigError, PipelineError
from lib.log import get_logger
from lib.spine.calendar import TradingCalendar
from lib.spine.registry import registry
from lib.spine.runner import JobContext
from lib.storage import naive_utc
from lib.storage.predictions import prediction_id

log = get_logger("ai")
PROMPT_NAME = "predict_outlook"
RETRIED_KINDS = ("timeout", "provider")  # stored failures the next run asks again

LlmFactory = Callable[[Settings, ModelSpec], BaseChatModel]


def model_specs(settings: Settings) -> list[ModelSpec]:
    """AI_PREDICT_MODELS as model specs (LLM_TEMPERATURE for each)."""
    specs = []
    for ref in settings.ai_predict_models:
        provider, _, model = ref.partition(":")
        specs.append(ModelSpec(provider, model, settings.llm_temperature))  # type: ignore[arg-type]
    return specs


def predict_prompt() -> Prompt:
    """The registered predict_outlook prompt (ConfigError when prompts/ lost it)."""
    return discover_prompts()[PROMPT_NAME]


def input_digest(messages: Sequence[BaseMessage]) -> str:
    """A digest of exactly what every model is sent (roles and texts): equal digests, identical inputs."""
    sent = [(m.type, m.content) for m in messages]
    return hashlib.sha256(json.dumps(sent, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def market_calendar(settings: Settings, market: str | None = None) -> tuple[str, TradingCalendar]:
    """The screened market's name and trading calendar (whose next open is every prediction's deadline): the
    first's (KRX), or `market`'s."""
    screened = registry().screened(market)
    if screened is None or screened.calendar is None:
        raise ConfigError("no market registers the screened universe (krx.bars): nothing to predict")
    return screened.market, screened.calendar(settings)


def ready_models(settings: Settings, factory: LlmFactory) -> dict[ModelSpec, BaseChatModel]:
    """Every model of AI_PREDICT_MODELS built (LlmNotConfigured names a missing key) and AI_PREDICT_STRATEGIES
    checked against strategies/, before any model is asked."""
    known = discover_strategies().names
    unknown = [s for s in settings.ai_predict_strategies if s not in known]
    if unknown:
        raise ConfigError(f"AI_PREDICT_STRATEGIES names {', '.join(unknown)}, not a strategy of strategies/; known: "
                          f"{', '.join(known)}")
    models = {}
    for spec in model_specs(settings):
        try:
            models[spec] = factory(settings, spec)
        except LlmNotConfigured as e:
            # the provider comes from AI_PREDICT_MODELS here, not LLM_PROVIDER: name the pair and its key
            key = "GOOGLE_API_KEY" if spec.provider == "gemini" else "OPENAI_API_KEY (or OPENAI_BASE_URL)"
            raise LlmNotConfigured(f"AI_PREDICT_MODELS names {spec.provider}:{spec.model} but {key} is not set: set "
                                   f"it in .env, or remove that model") from e
    return models


def _horizons(call: LlmCall) -> dict[str, Any]:
    parsed = call.parsed.model_dump(mode="json") if call.parsed is not None else {}
    return {str(h["sessions"]): {k: h[k] for k in ("probability", "direction", "reason", "citations")}
            for h in parsed.get("horizons", [])}


def _document(base: dict[str, Any], spec: ModelSpec, call: LlmCall | None, error: Exception | None,
              settings: Settings, made: dt.datetime, due: dt.datetime, day: dt.date) -> dict[str, Any]:
    model_ref = f"{spec.provider}:{spec.model}"
    kind = None
    if isinstance(error, UnparseableReply):
        kind = "unparseable"
    elif isinstance(error, ProviderError):
        kind = "timeout" if error.timeout else "provider"
    usage = dict(call.usage) if call else {}
    return {
        **base,
        "_id": prediction_id(day, base["ticker"], model_ref, base["prompt"], base["prompt_version"]),
        "provider": spec.provider, "model": spec.model, "model_ref": model_ref, "temperature": spec.temperature,
        "made_utc": naive_utc(made), "deadline_utc": naive_utc(due), "late": made >= due,  # at the open is late
        "memorised": memorised(settings, model_ref, day),
        "status": "ok" if error is None else "failed", "error": None if error is None else str(error),
        "error_kind": kind, "parse_ok": True if error is None else (False if kind == "unparseable" else None),
        "attempts": call.attempts if call else 0, "model_calls": call.requests if call else 0,
        "parse_errors": list(call.parse_errors) if call else [],
        "usage": usage, "cost_usd": cost_usd(settings, model_ref, usage), "latency_ms": call.latency_ms if call else 0,
        "model_name": call.model_name if call else None,
        "horizons": _horizons(call) if call is not None and error is None else {},
    }


def point_in_time(storage: Any, data: AnalysisData, day: dt.date) -> AnalysisData:
    """`data` without the universe's market cap when that was measured on a session after `day` (a past day asked
    as the demo does): a later market cap tells the model how the price moved after the cutoff."""
    stock = data.stocks[0]
    as_of = (storage.universe.ticker_doc(stock.ticker) or {}).get("as_of_date")
    if stock.market_cap is None or not as_of or str(as_of) <= day.isoformat():
        return data
    return data.model_copy(update={"stocks": [stock.model_copy(update={"market_cap": None}), *data.stocks[1:]]})


def predict_day(ctx: JobContext, day: dt.date, factory: LlmFactory = build_chat_model,
                calendar: TradingCalendar | None = None, prompt: Prompt | None = None) -> dict[str, int]:
    """Ask every model of AI_PREDICT_MODELS about each stock of `day`, storing each answer at once; made_utc is
    `ctx.clock()` when stored (a demo drives it with a simulated clock, and a late answer is marked late like any
    other). Returns the counts; raises PipelineError at the end while a provider failure waits for a retry."""
    settings, storage = ctx.settings, ctx.storage
    market, found = market_calendar(settings)
    calendar = calendar or found
    prompt = prompt or predict_prompt()
    specs = model_specs(settings)
    models = ready_models(settings, factory)
    due = deadline(calendar, day)
    cutoff = naive_utc(day_cutoff(day, calendar.tz))
    stored = {d["_id"]: d for d in storage.predictions.find_predictions(day=day, prompt=prompt.name)}
    counts = {"stocks": 0, "asked": 0, "answered": 0, "unparseable": 0, "provider_failed": 0, "skipped_stored": 0,
              "late": 0}
    for ticker, pick, chosen_by in batch_stocks(storage, settings, day):
        counts["stocks"] += 1

        def pid(spec: ModelSpec, ticker: str = ticker) -> str:
            return prediction_id(day, ticker, f"{spec.provider}:{spec.model}", prompt.name, prompt.version)

        todo = [s for s in specs if pid(s) not in stored or stored[pid(s)].get("error_kind") in RETRIED_KINDS]
        counts["skipped_stored"] += len(specs) - len(todo)
        if not todo:
            continue
        # A stock another model already answered on a past run keeps that run's input (the context block may
        # have grown since: a filing of the day found late), so every model of the day gets identical messages.
        # One document per stock and day carries the input (~9 KB); the others have its digest.
        earlier = next((stored[pid(s)] for s in specs if pid(s) in stored and "input" in stored[pid(s)]), None)
        context = (Context.model_validate(earlier["context"]) if earlier is not None
                   else universe_context(storage, settings, [ticker], day))
        data = point_in_time(storage, analysis_data(storage, [ticker], day, {ticker: pick} if pick else None, None,
                                                    context), day)
        if earlier is None and not data.stocks[0].rows:
            log.warning("%s has no analysed rows up to %s: not predicted", ticker, day)
            continue
        variables = earlier["input"] if earlier is not None else prompt.variables(data)
        messages = prompt.messages(variables)
        base = {
            "day": day.isoformat(), "market": market, "ticker": ticker, "chosen_by": chosen_by,
            "prompt": prompt.name, "prompt_version": prompt.version, "template_hash": prompt.template_hash,
            "input_digest": input_digest(messages), "context": context.model_dump(mode="json"),
            "context_ids": sorted(context.ids(), key=lambda i: (i[0], int(i[1:]))), "cutoff_utc": cutoff,
        }
        carrier = earlier["_id"] if earlier is not None else None
        for spec in todo:
            ctx.pulse()
            call: LlmCall | None = None
            error: Exception | None = None
            try:
                call = structured_call(models[spec], spec.provider, messages, prompt.output_model,
                                       settings.llm_parse_retries, lambda out, data=data: prompt.check(out, data))
            except (UnparseableReply, ProviderError) as exc:
                call, error = exc.call, exc
            doc = _document(base, spec, call, error, settings, ctx.clock(), due, day)
            if carrier in (None, doc["_id"]):
                carrier, doc["input"] = doc["_id"], variables
            storage.predictions.save_prediction(doc)
            counts["asked"] += 1
            counts["late"] += doc["late"]
            if error is None:
                counts["answered"] += 1
            elif doc["error_kind"] == "unparseable":
                counts["unparseable"] += 1
                log.warning("%s %s on %s: stored failed (final): %s", doc["model_ref"], ticker, day, error)
            else:
                counts["provider_failed"] += 1
                log.warning("%s %s on %s: provider failed, asked again next run: %s", doc["model_ref"], ticker, day,
                            error)
    ctx.counters.update(counts)
    log.info("predictions for %s: %s", day, ", ".join(f"{k} {v}" for k, v in counts.items()))
    if counts["provider_failed"]:
        raise PipelineError(f"{counts['provider_failed']} model call(s) for {day} failed at the provider (stored, "
                            "asked again by the next run before the open)")
    return counts


def predict_latest(ctx: JobContext, factory: LlmFactory = build_chat_model,
                   calendar: TradingCalendar | None = None) -> None:
    """The cron job: predict the latest analysed day unless its deadline (the next open) has passed."""
    ready_models(ctx.settings, factory)  # a setting to fix is said (exit 2) on every run, something to ask or not
    day = ctx.storage.picks.latest_analysis_day()
    if day is None:
        log.info("no analysed day yet (hourly_analysis stores the picks): nothing to predict")
        return
    calendar = calendar or market_calendar(ctx.settings)[1]
    due = deadline(calendar, day)
    now = ctx.clock()
    if now >= due:
        log.info("the latest analysed day %s was due before the next open, %s; it is past that: nothing asked "
                 "(a prediction made after the open is never scored)", day, due.isoformat(timespec="minutes"))
        ctx.counters["day"] = day.isoformat()
        return
    ctx.counters["day"] = day.isoformat()
    predict_day(ctx, day, factory, calendar)
