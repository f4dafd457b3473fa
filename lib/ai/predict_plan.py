"""What a prediction batch asks and by when: the day's stocks (strategy picks, then the watchlist), the deadline
(the next session's open on the exchange's calendar) and what each answer costs."""

from __future__ import annotations

import datetime as dt
import threading
from functools import cache
from typing import Any

from lib.config import Settings
from lib.errors import ConfigError
from lib.spine.calendar import CALENDAR_START, TradingCalendar
from lib.storage import Storage

_LOADING = threading.Lock()  # exchange-calendars is not safe to build from two threads at once


@cache
def _opens(exchange: str) -> dict[dt.date, dt.datetime]:
    import exchange_calendars as xcals

    with _LOADING:
        calendar = xcals.get_calendar(exchange, start=CALENDAR_START.isoformat())
        return {ts.date(): o.to_pydatetime() for ts, o in calendar.schedule["open"].items()}


def session_open(calendar: TradingCalendar, day: dt.date) -> dt.datetime:
    """When the session `day` opens (aware): the library's open (late opens included, e.g. KRX's 10:00 on the
    college entrance exam day), else the exchange's usual open for a session only the settings declare."""
    opens = _opens(calendar.exchange)
    found = opens.get(day)
    if found is not None:
        return found.astimezone(calendar.tz)
    recent = [o.astimezone(calendar.tz).time() for o in list(opens.values())[-250:]]
    usual = max(set(recent), key=recent.count) if recent else dt.time(9, 0)
    return dt.datetime.combine(day, usual, tzinfo=calendar.tz)


def deadline(calendar: TradingCalendar, day: dt.date) -> dt.datetime:
    """By when a prediction from `day`'s close must be made: the open of the next session (aware)."""
    following = calendar.next_session(day)
    if following is None:
        raise ConfigError(f"{day} is at the end of the {calendar.exchange} calendar: no next session to predict "
                          "(upgrade exchange-calendars)")
    return session_open(calendar, following)


def batch_stocks(storage: Storage, settings: Settings, day: dt.date) -> list[tuple[str, dict[str, Any] | None,
                                                                               list[str]]]:
    """The stocks to predict on `day`: each strategy of AI_PREDICT_STRATEGIES in its order, its stored picks by
    score (highest first), then AI_PREDICT_WATCHLIST; each stock once, at most AI_PREDICT_MAX_PER_DAY. Each is
    (ticker, its first pick or None, what chose it: the strategies and/or "watchlist")."""
    chosen: dict[str, tuple[dict[str, Any] | None, list[str]]] = {}
    for strategy in settings.ai_predict_strategies:
        doc = storage.picks.daily_picks_for(strategy, day) or {}
        for pick in sorted(doc.get("picks", []), key=lambda p: (-p["score"], p["ticker"])):
            first, by = chosen.setdefault(pick["ticker"], (pick, []))
            by.append(strategy)
    for ticker in settings.ai_predict_watchlist:
        chosen.setdefault(ticker, (None, []))[1].append("watchlist")
    return [(t, pick, by) for t, (pick, by) in list(chosen.items())[: settings.ai_predict_max_per_day]]


def cost_usd(settings: Settings, model_ref: str, usage: dict[str, int]) -> float | None:
    """The answer's cost estimate from AI_MODEL_PRICES (USD per million input/output tokens); None when the model
    has no price set or the provider reported no tokens."""
    prices = settings.ai_model_prices.get(model_ref)
    if prices is None or "input_tokens" not in usage:
        return None
    spent = usage.get("input_tokens", 0) * prices[0] + usage.get("output_tokens", 0) * prices[1]
    return round(spent / 1_000_000, 8)


def memorised(settings: Settings, model_ref: str, day: dt.date) -> bool:
    """Whether `day` is before the model's knowledge cutoff (AI_MODEL_KNOWLEDGE_CUTOFFS): it may have read what
    happened after, so its prediction is never scored."""
    cutoff = settings.ai_model_knowledge_cutoffs.get(model_ref)
    return cutoff is not None and day < cutoff
