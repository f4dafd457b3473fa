"""The leaderboard: per window x model x prompt x horizon, what was asked, answered, parsed and scored, and the
scores of lib/ai/scoring.py with their 95% intervals (issue 16). Pure: rows from prediction documents.

- A window of W days holds the predictions made in the W calendar days up to the newest prediction day scored at
  that horizon (`through_day`; W = 0: every day up to it), so the days of a 20-session horizon whose end has not
  come yet do not count as unanswered. With nothing scored at a horizon yet, through_day is the newest prediction
  day and the row only counts.
- A prompt is its name and version ("daily:v1"): two versions of a prompt are two rows, never mixed.
- asked: every prediction document; answered: status ok; parsed: parse_ok; late and memorised: counted, never
  scored; unpriced: the stock had no stored close (lib/ai/evaluate.py), not scored; waiting: answered and scorable
  with no outcome yet; scored: an outcome and a probability at that horizon. coverage = answered / asked, parse
  rate = parsed / asked.
- Tokens and cost of every call in the window (failed and late ones cost too) per scored prediction: what one
  usable scored call really cost. The cost is None when any call's cost is unknown (the model has no price in
  AI_MODEL_PRICES): a partial sum would look cheaper than it was.
- ranked: scored >= AI_LEADERBOARD_MIN_COUNT and a Brier skill exists; rank among the ranked rows of the same
  window and horizon by Brier skill, ties broken by the higher lower bound of its interval."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lib.ai.scoring import Scored, score
from lib.config_predict import HORIZONS

TOP_K = 5  # the top-k excess return: the k highest probabilities of a day (AI_PREDICT_MAX_PER_DAY is 20 by default)
CALIBRATION_BINS = 10
RESAMPLES = 1000
BLOCK_DAYS = 5  # a week of sessions per bootstrap block: overlapping horizons stay together
SEED = 0  # repeatable intervals: the same predictions give the same stored rows


def _probability(doc: Mapping[str, Any], horizon: int) -> float | None:
    answer = (doc.get("horizons") or {}).get(str(horizon)) or {}
    p = answer.get("probability")
    if isinstance(p, bool) or not isinstance(p, int | float) or math.isnan(p) or not 0 <= p <= 1:
        return None
    return float(p)


def _outcome(doc: Mapping[str, Any], horizon: int) -> Mapping[str, Any] | None:
    return (doc.get("outcomes") or {}).get(str(horizon))


def _through_days(docs: Sequence[Mapping[str, Any]]) -> dict[int, dt.date | None]:
    newest = max((d["day"] for d in docs), default=None)
    out: dict[int, dt.date | None] = {}
    for horizon in HORIZONS:
        scored = [d["day"] for d in docs if _outcome(d, horizon)]
        day = max(scored, default=newest)
        out[horizon] = dt.date.fromisoformat(day) if day else None
    return out


def _scores_doc(scored: list[Scored]) -> dict[str, Any] | None:
    if not scored:
        return None
    s = score(scored, top_k=TOP_K, bins=CALIBRATION_BINS, resamples=RESAMPLES, block_days=BLOCK_DAYS, seed=SEED)
    doc = dataclasses.asdict(s)
    doc["intervals"] = {name: [low, high] for name, (low, high) in s.intervals.items()}  # BSON arrays
    return doc


def _spend(docs: Sequence[Mapping[str, Any]]) -> tuple[int, int, bool, float | None]:
    """Tokens in and out, whether every call that reached a model reported them, and the cost (None: unknown)."""
    tokens_in = tokens_out = 0
    tokens_known = True
    cost: float | None = 0.0
    for doc in docs:
        usage = doc.get("usage") or {}
        tokens_in += int(usage.get("input_tokens") or 0)
        tokens_out += int(usage.get("output_tokens") or 0)
        if not doc.get("model_calls", 1):
            continue  # never reached the model: nothing was spent
        if usage.get("input_tokens") is None and usage.get("output_tokens") is None:
            tokens_known = False  # a provider (or stub) that reports no usage: 0 tokens per call would be a lie
        if doc.get("cost_usd") is None:
            cost = None
        elif cost is not None:
            cost += float(doc["cost_usd"])
    return tokens_in, tokens_out, tokens_known, cost


def group_row(docs: Sequence[Mapping[str, Any]], horizon: int, min_count: int) -> dict[str, Any]:
    """The counts and scores of one model and prompt's predictions at one horizon (the docs of one window)."""
    scored: list[Scored] = []
    unpriced = waiting = 0
    for doc in docs:
        if doc.get("status") != "ok" or doc.get("late") or doc.get("memorised"):
            continue
        outcome = _outcome(doc, horizon)
        if outcome is None:
            waiting += 1
            continue
        p = _probability(doc, horizon)
        if outcome.get("beat") is None:
            unpriced += 1
        elif p is not None:
            scored.append(Scored(dt.date.fromisoformat(doc["day"]), doc["ticker"], p, bool(outcome["beat"]),
                                 float(outcome["excess_return"])))
    asked = len(docs)
    answered = sum(1 for d in docs if d.get("status") == "ok")
    parsed = sum(1 for d in docs if d.get("parse_ok"))
    tokens_in, tokens_out, tokens_known, cost = _spend(docs)
    scores = _scores_doc(scored)
    n = len(scored)
    return {
        "asked": asked, "answered": answered, "parsed": parsed, "scored": n,
        "late": sum(1 for d in docs if d.get("late")), "memorised": sum(1 for d in docs if d.get("memorised")),
        "unpriced": unpriced, "waiting": waiting,
        "coverage": answered / asked if asked else None, "parse_rate": parsed / asked if asked else None,
        "input_tokens": tokens_in, "output_tokens": tokens_out, "cost_usd": cost,
        "tokens_per_scored": (tokens_in + tokens_out) / n if n and tokens_known else None,
        "cost_per_scored": cost / n if n and cost is not None else None,
        "scores": scores,
        "ranked": n >= min_count and scores is not None and scores["brier_skill"] is not None,
        "rank": None,
    }


def _rank(rows: list[dict[str, Any]]) -> None:
    """Number the ranked rows of each window and horizon by Brier skill (ties: the higher lower bound)."""
    groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for row in rows:
        if row["ranked"]:
            groups.setdefault((row["window_days"], row["horizon"]), []).append(row)
    for members in groups.values():
        def key(row: dict[str, Any]) -> tuple[float, float, str]:
            s = row["scores"]
            low = s["intervals"].get("brier_skill", [-math.inf])[0]
            return -s["brier_skill"], -low, row["_id"]
        for place, row in enumerate(sorted(members, key=key), start=1):
            row["rank"] = place


def leaderboard_rows(docs: Iterable[Mapping[str, Any]], windows: Sequence[int], min_count: int) -> list[dict]:
    """Every leaderboard row of these prediction documents, ranked; `_id` "<window>|<model_ref>|<prompt>:<version>|
    <horizon>"."""
    docs = list(docs)
    through = _through_days(docs)
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for doc in docs:
        groups.setdefault((doc["model_ref"], doc["prompt"], str(doc.get("prompt_version", ""))), []).append(doc)
    rows = []
    for horizon in HORIZONS:
        last = through[horizon]
        if last is None:
            continue
        for window in windows:
            first = last - dt.timedelta(days=window - 1) if window else None
            for (model_ref, prompt, version), members in sorted(groups.items()):
                inside = [d for d in members if (first is None or d["day"] >= first.isoformat())
                          and d["day"] <= last.isoformat()]
                if not inside:
                    continue
                row = {"_id": f"{window}|{model_ref}|{prompt}:{version}|{horizon}", "window_days": window,
                       "model_ref": model_ref, "prompt": prompt, "prompt_version": version, "horizon": horizon,
                       "from_day": min(d["day"] for d in inside), "through_day": last.isoformat(),
                       **group_row(inside, horizon, min_count)}
                rows.append(row)
    _rank(rows)
    return rows


def rows_changed(stored: Iterable[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]) -> bool:
    """True when the computed rows differ from the stored ones (their computed_utc aside): a rerun that changes
    nothing writes nothing."""
    before = {r["_id"]: {k: v for k, v in r.items() if k != "computed_utc"} for r in stored}
    return before != {r["_id"]: dict(r) for r in rows}
