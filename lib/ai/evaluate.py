"""ai_evaluate: score each stored prediction once its horizon has passed, then store the leaderboard (issue 16).

A prediction made on day D at horizon h is about the session h sessions after D on the market's calendar (its end
day). Once that session's collection is done (its day record completed), the prediction gets its outcome from the
stored bars, adjusted for corporate actions (lib/ai/evaluate_prices.py):

- forward return: the stock's adjusted close on the end day over its close on D, minus 1;
- the universe's median: the median forward return, over the same two sessions, of every stock with a stored bar
  on D (what was known that day). A stock without a bar at the end (suspended without a row, delisted, its bar
  held in quarantine) counts with its last stored close before the end, both in the median and when it is the
  predicted stock: that is what a holder had, and dropping such stocks would flatter a model that picked them
  (survivorship);
- excess = forward - median, beat = forward > median.

A prediction whose stock has no stored close on or before D cannot be priced: it is stored with forward_return
and beat None and a `reason`, counted as `unpriced` on the leaderboard, never dropped silently. Late and memorised
predictions get no outcome (they are counted on the leaderboard, not scored). Each (D, end day) pair's universe
returns are computed once for all the predictions that share it; outcomes are written with set_outcomes, which a
rerun does not repeat (only predictions without an outcome are read)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from lib.ai.evaluate_board import leaderboard_rows, rows_changed
from lib.ai.evaluate_prices import AdjustedCloses
from lib.config_predict import HORIZONS
from lib.log import get_logger
from lib.spine.calendar import TradingCalendar
from lib.spine.runner import JobContext
from lib.storage import Storage

log = get_logger("ai_evaluate")

JOB = "ai_evaluate"
LEAD_SESSIONS = 21  # bars read before the first prediction day: a stock without a bar on D is priced at its last
WRITE_BATCH = 2000  # outcomes per write: progress survives a kill, and the lock is extended between batches


def end_session(calendar: TradingCalendar, day: dt.date, horizon: int) -> dt.date | None:
    """The session `horizon` sessions after `day` (None past the calendar's end)."""
    end: dt.date | None = day
    for _ in range(horizon):
        end = calendar.next_session(end) if end is not None else None
    return end


def _market_of(doc: dict[str, Any]) -> str:
    return str(doc.get("market") or "krx").lower()


def due_outcomes(storage: Storage, calendar: TradingCalendar, done: set[dt.date],
                 market_key: str) -> list[tuple[dict[str, Any], int, dt.date]]:
    """(prediction, horizon, end day) of every answered, scorable prediction of this market without an outcome
    at a horizon whose end session is collected."""
    due = []
    for horizon in HORIZONS:
        for doc in storage.predictions.awaiting_outcome(horizon):
            if _market_of(doc) != market_key:
                continue  # another market's job scores it against its own bars
            end = end_session(calendar, dt.date.fromisoformat(doc["day"]), horizon)
            if end is not None and end in done:
                due.append((doc, horizon, end))
    return due


def outcome_of(prices: AdjustedCloses, doc: dict[str, Any], end: dt.date, scored: dt.datetime) -> dict[str, Any]:
    """The stored outcome of one prediction at one horizon."""
    day = dt.date.fromisoformat(doc["day"])
    f = prices.forward(doc["ticker"], day, end)
    out: dict[str, Any] = {"end_day": end.isoformat(), "forward_return": f.forward_return,
                           "median_return": f.median_return, "excess_return": None, "beat": None,
                           "universe": f.universe, "priced_day": f.priced_day.isoformat() if f.priced_day else None,
                           "scored_utc": scored}
    if f.forward_return is None or f.median_return is None:
        out["reason"] = f"no stored close of {doc['ticker']} on or before {day}" if f.forward_return is None \
            else f"no stock had a bar on {day}"
        return out
    out["excess_return"] = f.forward_return - f.median_return
    out["beat"] = bool(f.forward_return > f.median_return)
    return out


def score_due(ctx: JobContext, calendar: TradingCalendar, collected_by: str,
              market_key: str = "krx") -> tuple[int, int]:
    """Store the outcome of every due prediction of `market_key`, whose end sessions `collected_by` (the bars'
    collection job) has done; returns (outcomes written, of them unpriced)."""
    storage = ctx.storage
    done = storage.jobs.done_days(collected_by)
    due = due_outcomes(storage, calendar, done, market_key)
    if not due:
        return 0, 0
    first = min(dt.date.fromisoformat(doc["day"]) for doc, _, _ in due)
    last = max(end for _, _, end in due)
    start = calendar.last_sessions(calendar.latest_session(first), LEAD_SESSIONS)[0]
    prices = AdjustedCloses.read(storage, calendar.sessions_between(start, last))
    now = ctx.clock().astimezone(dt.UTC).replace(tzinfo=None)
    triples = [(doc["_id"], horizon, outcome_of(prices, doc, end, now)) for doc, horizon, end in due]
    unpriced = sum(1 for _, _, o in triples if o["beat"] is None)
    written = 0
    for batch in _batches(triples, WRITE_BATCH):
        ctx.pulse()
        written += storage.predictions.set_outcomes(batch)
    log.info("scored %d prediction horizon(s) over %d (day, end day) pair(s); %d could not be priced",
             written, len({(d["day"], e) for d, _, e in due}), unpriced)
    return written, unpriced


def _batches(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def evaluate(ctx: JobContext, calendar: TradingCalendar, collected_by: str) -> None:
    """The ai_evaluate job: outcomes of the predictions whose horizon passed on `calendar`'s sessions collected by
    the job `collected_by` (daily_update), then the leaderboard. It reads stored bars only: no source is asked."""
    written, unpriced = score_due(ctx, calendar, collected_by)
    ctx.counters["outcomes"] = written
    ctx.counters["unpriced"] = unpriced
    settings = ctx.settings
    rows = leaderboard_rows(ctx.storage.predictions.find_predictions(light=True), settings.ai_leaderboard_windows,
                            settings.ai_leaderboard_min_count)
    ctx.counters["leaderboard_rows"] = len(rows)
    if not rows:
        log.info("no predictions are stored yet: ai_predict.py stores them once AI_PREDICT_MODELS names a model")
    ctx.counters["waiting"] = ctx.storage.predictions.waiting_count()
    if rows_changed(ctx.storage.predictions.leaderboard_rows(), rows):
        ctx.pulse()
        ctx.storage.predictions.save_leaderboard(rows, ctx.clock())
    log.info("leaderboard: %d row(s); %d prediction(s) wait for their 20-session outcome", len(rows),
             ctx.counters["waiting"])
