"""Leaderboard rows from prediction documents (pure): windows end at the newest scored day, spend per scored call
and an unknown price, two prompt versions never mixed."""

from __future__ import annotations

import datetime as dt

from lib.ai.evaluate_board import leaderboard_rows
from tests.ai.test_evaluate import prediction

DAYS = [dt.date(2024, 9, 2) + dt.timedelta(days=i) for i in range(4)]  # test-only stand-ins: no market data


def scored(day: dt.date, ticker: str, model: str, p: float, beat: bool, **fields) -> dict:
    doc = prediction(day, ticker, model, {5: p}, **fields)
    doc["outcomes"] = {"5": {"end_day": "2024-09-30", "forward_return": 0.01 if beat else -0.01,
                             "median_return": 0.0, "excess_return": 0.01 if beat else -0.01, "beat": beat,
                             "universe": 3}}
    return doc


def test_spend_is_per_scored_call_and_unknown_when_any_call_has_no_price():
    docs = [scored(day, t, "openai:a", 0.7, t == "A") for day in DAYS[:2] for t in "ABC"]
    docs.append(prediction(DAYS[1], "D", "openai:a", {}, status="failed", parse_ok=False, horizons=None))
    docs += [scored(DAYS[0], t, "gemini:b", 0.5, t == "A", cost_usd=None) for t in "ABC"]
    rows = {r["model_ref"]: r for r in leaderboard_rows(docs, [0], 1) if r["horizon"] == 5}
    a, b = rows["openai:a"], rows["gemini:b"]
    assert (a["asked"], a["answered"], a["scored"]) == (7, 6, 6)
    assert a["cost_usd"] == 0.007 and abs(a["cost_per_scored"] - 0.007 / 6) < 1e-15  # the failed call cost too
    assert a["tokens_per_scored"] == 7 * 1100 / 6
    assert b["cost_usd"] is None and b["cost_per_scored"] is None and b["tokens_per_scored"] == 1100


def test_tokens_per_scored_call_are_unknown_not_zero_when_a_model_reports_no_usage():
    docs = [scored(DAYS[0], t, "openai:stub", 0.5, t == "A", usage={"input_tokens": None, "output_tokens": None})
            for t in "ABC"]
    row = next(r for r in leaderboard_rows(docs, [0], 1) if r["horizon"] == 5)
    assert row["scored"] == 3 and row["tokens_per_scored"] is None


def test_a_window_ends_at_the_newest_scored_day_and_prompt_versions_are_separate_rows():
    docs = [scored(day, t, "openai:a", 0.6, t == "A") for day in DAYS[:3] for t in "ABC"]
    docs += [prediction(DAYS[3], t, "openai:a", {5: 0.6}) for t in "ABC"]  # not scored yet: after through_day
    docs += [scored(DAYS[2], t, "openai:a", 0.6, t == "A", prompt_version="v2",
                    _id=f"v2{t}") for t in "ABC"]
    rows = [r for r in leaderboard_rows(docs, [2, 0], 1) if r["horizon"] == 5]  # 10 and 20: counts only
    by_id = {r["_id"]: r for r in rows}
    assert set(by_id) == {"2|openai:a|daily:v1|5", "0|openai:a|daily:v1|5", "2|openai:a|daily:v2|5",
                          "0|openai:a|daily:v2|5"}
    two, everything = by_id["2|openai:a|daily:v1|5"], by_id["0|openai:a|daily:v1|5"]
    assert (two["from_day"], two["through_day"], two["asked"]) == (DAYS[1].isoformat(), DAYS[2].isoformat(), 6)
    assert (everything["from_day"], everything["asked"], everything["scored"]) == (DAYS[0].isoformat(), 9, 9)
    assert by_id["0|openai:a|daily:v2|5"]["scored"] == 3
    assert [r["rank"] for r in rows if r["window_days"] == 0] == [1, 2]  # two rows of one model, each ranked
