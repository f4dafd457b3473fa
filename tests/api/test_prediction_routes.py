"""GET /ai/leaderboard and GET /ai/predictions: what ai_predict.py and ai_evaluate.py stored, filtered, with an
outcome only once it is stored, and errors in the common shape."""

from __future__ import annotations

import datetime as dt

import mongomock_ng
import pytest

from lib.storage import Storage
from tests.api.conftest import KEY
from tests.predictions_data import CONSTANT, FUTURE, PROMPT, outcome, prediction, store_leaderboard

D = dt.date
DAYS = [D(2024, 11, 25), D(2024, 11, 26), D(2024, 11, 27), D(2024, 11, 28), D(2024, 11, 29)]
COMPUTED = dt.datetime(2024, 12, 20, 11, 0)


@pytest.fixture
def storage() -> Storage:
    return Storage(mongomock_ng.MongoClient(), prefix="pred_")


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_a_prediction_shows_its_outcome_once_stored_and_waits_for_the_rest(make_client, storage):
    # 2024-12-13: its 5-session outcome (2024-12-20) is over on the panel, its 10 and 20 are not
    day = D(2024, 12, 13)
    doc = prediction(day, "005930", FUTURE, with_outcomes=False)
    storage.predictions.save_prediction(doc)
    real = outcome(day, "005930", 5)
    storage.predictions.set_outcomes([(doc["_id"], 5, real)])
    body = make_client(storage).get("/ai/predictions", params={"ticker": "005930"}).json()
    assert body["count"] == 1 and body["more"] is False
    shown = body["predictions"][0]
    assert shown["day"] == "2024-12-13" and shown["model_ref"] == FUTURE and shown["late"] is False
    calls = {c["horizon"]: c for c in shown["horizons"]}
    assert calls[5]["state"] == "scored" and calls[5]["end_day"] == "2024-12-20"
    assert calls[5]["outcome"]["forward_return"] == pytest.approx(real["forward_return"])
    assert calls[5]["outcome"]["beat"] is real["beat"] and calls[5]["outcome"]["universe"] == 23
    # not stored yet: waiting, with the KRX session the outcome will be measured at (the 10th after, over the
    # 2024-12-25 and 12-31 closures)
    assert calls[10]["state"] == "waiting" and calls[10]["outcome"] is None and calls[10]["end_day"] == "2024-12-30"
    assert calls[10]["reason"] == "Closed above its 20-day average on rising volume."
    assert calls[10]["citations"] == ["dart:20241202000123"] and calls[10]["direction"] in ("up", "down")
    assert calls[20]["state"] == "waiting" and calls[20]["end_day"] == "2025-01-15"

    # the evaluation stores the 10-session outcome: now it is shown
    storage.predictions.set_outcomes([(shown["id"], 10, outcome(day, "005930", 10))])
    again = make_client(storage).get("/ai/predictions", params={"ticker": "005930"}).json()["predictions"][0]
    assert {c["horizon"]: c["state"] for c in again["horizons"]} == {5: "scored", 10: "scored", 20: "waiting"}


def test_late_memorised_and_failed_predictions_are_never_waiting(make_client, storage):
    day = D(2024, 12, 2)
    storage.predictions.save_prediction(prediction(day, "005930", FUTURE, late=True))
    storage.predictions.save_prediction(prediction(day, "000660", FUTURE, memorised=True))
    storage.predictions.save_prediction(prediction(day, "035420", FUTURE, status="failed"))
    shown = {p["ticker"]: p for p in make_client(storage).get("/ai/predictions").json()["predictions"]}
    assert shown["005930"]["late"] and {c["state"] for c in shown["005930"]["horizons"]} == {"not scored"}
    assert shown["000660"]["memorised"] and {c["state"] for c in shown["000660"]["horizons"]} == {"not scored"}
    assert all(c["outcome"] is None for p in shown.values() for c in p["horizons"])
    assert shown["035420"]["status"] == "failed" and shown["035420"]["horizons"] == []
    assert shown["035420"]["error"] == "HTTP 503 from provider"


def test_predictions_filter_by_ticker_model_day_since_and_prompt_newest_first(make_client, storage):
    for day in DAYS:
        for ticker in ("005930", "000660"):
            for model in (FUTURE, CONSTANT):
                storage.predictions.save_prediction(prediction(day, ticker, model, probability=0.5
                                                               if model == CONSTANT else None))
    client = make_client(storage)

    def ids(**params):
        body = client.get("/ai/predictions", params=params).json()
        return [(p["day"], p["ticker"], p["model_ref"]) for p in body["predictions"]]

    every = ids()
    assert len(every) == 20 and [d for d, _, _ in every] == sorted((d for d, _, _ in every), reverse=True)
    assert {t for _, t, _ in ids(ticker="000660")} == {"000660"} and len(ids(ticker="000660")) == 10
    assert {m for _, _, m in ids(model=CONSTANT)} == {CONSTANT}
    assert {d for d, _, _ in ids(day="2024-11-27")} == {"2024-11-27"} and len(ids(day="2024-11-27")) == 4
    assert {d for d, _, _ in ids(since="2024-11-28")} == {"2024-11-28", "2024-11-29"}
    assert len(ids(prompt=PROMPT, model=FUTURE, ticker="005930")) == 5
    page = client.get("/ai/predictions", params={"limit": 3}).json()
    assert page["count"] == 3 and page["more"] is True and page["limit"] == 3
    assert ids(ticker="035420") == []  # a real code without predictions: nothing, not an error


def test_bad_filters_answer_404_and_422_in_the_common_shape(make_client, storage):
    storage.predictions.save_prediction(prediction(DAYS[0], "005930", FUTURE))
    client = make_client(storage)
    unknown = error_of(client.get("/ai/predictions", params={"model": "openai:gpt-9"}), 404)
    assert unknown["code"] == "not_found" and FUTURE in unknown["message"] and unknown["details"]["known"] == [FUTURE]
    assert PROMPT in error_of(client.get("/ai/predictions", params={"prompt": "nope"}), 404)["message"]
    configured = make_client(storage, ai_predict_models=f"{FUTURE},{CONSTANT}")  # asked from tonight on
    assert configured.get("/ai/predictions", params={"model": CONSTANT}).json()["predictions"] == []
    both = error_of(client.get("/ai/predictions", params={"day": "2024-11-25", "since": "2024-11-01"}), 422)
    assert both["message"] == "give day or since, not both"
    for params in ({"ticker": "<script>"}, {"day": "2024-13-01"}, {"limit": 0}, {"limit": 501},
                   {"model": "gpt-4o"}):
        assert error_of(client.get("/ai/predictions", params=params), 422)["code"] == "invalid_request"
    for params in ({"horizon": 7}, {"window": -1}):
        error_of(client.get("/ai/leaderboard", params=params), 422)
    window = error_of(client.get("/ai/leaderboard", params={"window": 7}), 422)
    assert "AI_LEADERBOARD_WINDOWS is 30, 90, 365, 0" in window["message"]


def test_the_read_key_setting_guards_both_routes(make_client, storage):
    client = make_client(storage, api_keys_for_reads=True)
    for path in ("/ai/leaderboard", "/ai/predictions"):
        assert error_of(client.get(path), 401)["code"] == "unauthorized"
        assert client.get(path, headers={"X-API-Key": KEY}).status_code == 200
    assert make_client(storage).get("/ai/leaderboard").status_code == 200  # open by default, like every read


def test_the_leaderboard_ranks_by_skill_filters_and_says_why_a_row_is_not_ranked(make_client, storage):
    store_leaderboard(storage, COMPUTED, DAYS)
    client = make_client(storage)
    body = client.get("/ai/leaderboard", params={"horizon": 5, "window": 0}).json()
    assert body["computed_utc"] == "2024-12-20T11:00:00Z" and body["min_count"] == 30 and body["empty_why"] is None
    first, second = body["rows"]
    assert (first["model_ref"], first["rank"], second["model_ref"], second["rank"]) == (FUTURE, 1, CONSTANT, 2)
    # the future reader is always right; the constant 0.5 scores Brier 0.25 and about no skill
    assert first["accuracy"] == 1 and first["brier"] == pytest.approx(0.04) and first["scored"] == 115
    assert second["brier"] == pytest.approx(0.25) and abs(second["brier_skill"]) < 0.05
    assert second["cost_per_scored_call_usd"] is None  # its price is not set
    assert first["cost_per_scored_call_usd"] == pytest.approx(0.00084 * 117 / 115)  # every call's cost per scored
    low, high = first["intervals"]["brier_skill"]["low"], first["intervals"]["brier_skill"]["high"]
    assert low <= first["brier_skill"] <= high
    assert len(first["calibration"]) == 10 and sum(b["count"] for b in first["calibration"]) == 115
    assert {"low", "high", "count", "mean_probability", "frequency"} == set(first["calibration"][0])
    assert (first["prompt"], first["prompt_version"], first["from_day"], first["through_day"]) == (
        PROMPT, "1", "2024-11-25", "2024-11-29")

    short = client.get("/ai/leaderboard", params={"horizon": 20, "window": 30}).json()["rows"]
    assert [(r["model_ref"], r["ranked"], r["rank"]) for r in short] == [(FUTURE, False, None)]
    assert short[0]["unranked_why"] == "23 scored prediction(s), under AI_LEADERBOARD_MIN_COUNT=30"
    lowered = make_client(storage, ai_leaderboard_min_count=20)  # set lower since ai_evaluate.py ran
    why = lowered.get("/ai/leaderboard", params={"horizon": 20, "window": 30}).json()["rows"][0]["unranked_why"]
    assert why == "computed when AI_LEADERBOARD_MIN_COUNT was above 23; ai_evaluate.py ranks it on its next run"
    everything = client.get("/ai/leaderboard").json()
    assert everything["count"] == 6 and everything["prompts"] == [PROMPT]
    assert [(r["window_days"], r["horizon"]) for r in everything["rows"]] == [
        (0, 5), (0, 5), (0, 20), (0, 20), (30, 5), (30, 20)]
    assert client.get("/ai/leaderboard", params={"prompt": PROMPT}).json()["count"] == 6
    missing = error_of(client.get("/ai/leaderboard", params={"prompt": "other"}), 404)
    assert missing["details"]["known"] == [PROMPT]
    none = client.get("/ai/leaderboard", params={"window": 90}).json()
    assert none["rows"] == [] and none["empty_why"].startswith("no leaderboard row for window=90")


def test_an_empty_leaderboard_says_what_to_do(make_client, storage):
    off = make_client(storage).get("/ai/leaderboard").json()
    assert off["rows"] == [] and off["computed_utc"] is None
    assert off["empty_why"].startswith("no prediction scored yet: set AI_PREDICT_MODELS")
    on = make_client(storage, ai_predict_models=FUTURE)
    assert on.get("/ai/leaderboard").json()["empty_why"].startswith("no prediction stored yet: ai_predict.py")
    storage.predictions.save_prediction(prediction(D(2024, 12, 19), "005930", FUTURE))
    waiting = on.get("/ai/leaderboard").json()["empty_why"]
    assert waiting.startswith("no prediction scored yet: ai_evaluate.py scores a prediction 5 sessions after")


def test_a_row_before_any_outcome_only_counts_and_is_not_ranked(make_client, storage):
    # what ai_evaluate.py stores for a model whose predictions all still wait: counts, no scores
    row = {"_id": f"0|{FUTURE}|{PROMPT}:1|20", "window_days": 0, "model_ref": FUTURE, "prompt": PROMPT,
           "prompt_version": "1", "horizon": 20, "from_day": "2024-12-19", "through_day": "2024-12-19", "asked": 20,
           "answered": 19, "parsed": 19, "scored": 0, "late": 0, "memorised": 0, "unpriced": 0, "waiting": 19,
           "coverage": 0.95, "parse_rate": 0.95, "tokens_per_scored": None, "cost_per_scored": None, "scores": None,
           "ranked": False, "rank": None}
    storage.predictions.save_leaderboard([row], COMPUTED)
    shown = make_client(storage).get("/ai/leaderboard", params={"horizon": 20}).json()["rows"]
    assert len(shown) == 1 and shown[0]["waiting"] == 19 and shown[0]["brier_skill"] is None
    assert shown[0]["calibration"] == [] and shown[0]["intervals"] == {}
    assert shown[0]["unranked_why"] == "0 scored prediction(s), under AI_LEADERBOARD_MIN_COUNT=30"
