"""ai_evaluate on the sample's real bars: stored predictions of fake models of known skill are scored against
what happened, the outcomes equal an independent pandas computation, and the leaderboard says what each model is
worth; late, memorised and unfinished predictions are counted and never scored; a kill at any write then a rerun
leaves the same store."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import mongomock_ng
import numpy as np
import pandas as pd
import pytest

from lib.ai.evaluate import end_session, evaluate
from lib.markets.krx.market import krx_calendar
from lib.ops.alerts import alert_after_job
from lib.spine.runner import run_job
from lib.storage import Storage
from lib.storage.predictions import prediction_id
from tests.batch_cut import StoreTemplate, collected_once, copy_store
from tests.conftest import CLOCK_START, PANEL, FakeClock, isolated_env, replay_settings
from tests.helpers import SimulatedKill, evening, kill_at_write

D = dt.date
LAST = D(2024, 9, 13)  # collected through this Friday (Chuseok follows)
PREDICTION_DAYS = 40  # sessions of predictions ending at LAST: the last ones wait for their horizon
PROMPT, VERSION = "daily", "v1"


SETTINGS = {"setup_history_sessions": 260, "ai_leaderboard_min_count": 30, "ai_leaderboard_windows": [30, 0]}


@pytest.fixture
def settings(make_settings):
    return make_settings(**SETTINGS)


@pytest.fixture(scope="module")
def collected_template() -> StoreTemplate:
    """The 260-session collection, run once: it is the same for every test."""
    return collected_once(LAST, **SETTINGS)


@pytest.fixture
def collected(storage, clock, collected_template):
    """The real sample collected from 2023-12-05 through 2024-09-13: 21 stocks of the panel's 23 (its two
    preferred shares are outside the universe)."""
    return collected_template.copy_into(storage, clock)


@functools.cache
def forward_truth(tickers: tuple[str, ...]) -> dict[int, pd.DataFrame]:
    """An independent computation from the panel file over the collected stocks (the universe: the sample's two
    preferred shares are not collected): per horizon, each (day, ticker)'s forward return over `h` sessions, the
    day's median over every stock with a row that day, the excess and whether it beat it."""
    panel = pd.read_parquet(PANEL, columns=["date", "ticker", "close"])
    panel = panel[(pd.to_datetime(panel["date"]) <= pd.Timestamp(LAST)) & panel["ticker"].isin(tickers)]
    closes = panel.pivot(index="date", columns="ticker", values="close").sort_index()
    out = {}
    for h in (5, 10, 20):
        forward = (closes.shift(-h) / closes - 1).iloc[:-h]
        rows = forward.stack().rename("forward").reset_index()
        rows["median"] = rows.groupby("date")["forward"].transform("median")
        rows["excess"] = rows["forward"] - rows["median"]
        rows["beat"] = rows["forward"] > rows["median"]
        rows["day"] = pd.to_datetime(rows["date"]).dt.date
        out[h] = rows.set_index(["day", "ticker"])
    return out


@pytest.fixture
def truth(collected_template) -> dict[int, pd.DataFrame]:
    return forward_truth(collected_template.tickers)


def prediction(day: dt.date, ticker: str, model_ref: str, probabilities: dict[int, float],
               **fields: Any) -> dict[str, Any]:
    """A stored prediction in the documented shape (lib/storage/predictions.py)."""
    doc = {
        "_id": prediction_id(day, ticker, model_ref, PROMPT, VERSION), "day": day.isoformat(), "market": "krx",
        "ticker": ticker, "provider": model_ref.split(":")[0], "model": model_ref.split(":")[1],
        "model_ref": model_ref, "prompt": PROMPT, "prompt_version": VERSION, "input_digest": f"{day}{ticker}",
        "context_ids": [], "late": False, "memorised": False, "status": "ok", "error": None, "error_kind": None,
        "parse_ok": True, "attempts": 1, "model_calls": 1, "usage": {"input_tokens": 1000, "output_tokens": 100},
        "cost_usd": 0.001, "latency_ms": 900,
        "horizons": {str(h): {"probability": p, "direction": "up" if p >= 0.5 else "down", "reason": "stub",
                              "citations": []} for h, p in probabilities.items()},
    }
    return doc | fields


def prediction_days() -> list[dt.date]:
    """The sessions predictions are stored for: the last PREDICTION_DAYS of the collected range."""
    days = pd.read_parquet(PANEL, columns=["date"])["date"].drop_duplicates().sort_values()
    return [d.date() for d in pd.to_datetime(days) if d.date() <= LAST][-PREDICTION_DAYS:]


def store_models(storage: Any, truth: dict[int, pd.DataFrame], tickers: list[str]) -> None:
    """Three fake models over every stock of the last PREDICTION_DAYS sessions: one reads the future (where it is
    known), a constant 0.5, a coin flip; and a fourth asked too rarely to be ranked."""
    rng = np.random.default_rng(7)
    for day in prediction_days():
        for ticker in tickers:
            future = {h: float(truth[h]["beat"].get((day, ticker), False)) for h in (5, 10, 20)}
            storage.predictions.save_prediction(prediction(day, ticker, "openai:future", future))
            storage.predictions.save_prediction(prediction(day, ticker, "openai:half", dict.fromkeys(future, 0.5)))
            coin = {h: float(rng.uniform()) for h in (5, 10, 20)}
            storage.predictions.save_prediction(prediction(day, ticker, "gemini:coin", coin))
    for ticker in tickers[:5]:
        storage.predictions.save_prediction(prediction(prediction_days()[0], ticker, "gemini:rare",
                                                       dict.fromkeys((5, 10, 20), 0.6)))


def run_evaluate(storage: Any, settings: Any, clock: Any, when: dt.datetime | None = None) -> int:
    """Run ai_evaluate as the script does, on this storage and clock (by default on LAST's evening)."""
    calendar = krx_calendar(settings)
    code = run_job("ai_evaluate", settings, storage, when or evening(LAST, 20), clock,
                   lambda ctx: evaluate(ctx, calendar, "daily_update"), lock_name="ai_evaluate",
                   after=alert_after_job)
    clock.advance(minutes=1)
    return code


@pytest.fixture(scope="module")
def scored_template(collected_template) -> StoreTemplate:
    """The three models' 2,520 predictions stored and scored, once: the tests on it only read it."""
    with isolated_env():
        store, clock = Storage(mongomock_ng.MongoClient(), prefix="test_"), FakeClock(CLOCK_START)
        collected_template.copy_into(store, clock)
        tickers = collected_template.tickers
        store_models(store, forward_truth(tickers), list(tickers))
        assert run_evaluate(store, replay_settings(**SETTINGS), clock) == 0
    return StoreTemplate(store.client, clock.now, tickers)


@pytest.fixture
def scored(storage, clock, scored_template):
    return scored_template.copy_into(storage, clock)


def board(storage: Any, model: str, horizon: int, window: int = 0) -> dict[str, Any]:
    rows = storage.predictions.leaderboard_rows(window=window, horizon=horizon)
    return next(r for r in rows if r["model_ref"] == model)


def test_stored_outcomes_equal_an_independent_pandas_computation(scored, truth, settings):
    calendar = krx_calendar(settings)
    checked = 0
    for doc in scored.predictions.find_predictions(model_ref="openai:half"):
        day = D.fromisoformat(doc["day"])
        for h in (5, 10, 20):
            outcome = doc.get("outcomes", {}).get(str(h))
            expected = truth[h].loc[(day, doc["ticker"])] if (day, doc["ticker"]) in truth[h].index else None
            if expected is None:
                assert outcome is None  # its end session is after the last collected one: it waits
                continue
            assert outcome["end_day"] == end_session(calendar, day, h).isoformat()
            assert outcome["forward_return"] == pytest.approx(expected["forward"], abs=1e-12)
            assert outcome["median_return"] == pytest.approx(expected["median"], abs=1e-12)
            assert outcome["excess_return"] == pytest.approx(expected["excess"], abs=1e-12)
            assert outcome["beat"] == bool(expected["beat"]) and outcome["universe"] == 21
            checked += 1
    assert checked > 21 * 20 * 3  # every horizon of most days


def test_the_leaderboard_tells_the_future_reader_the_constant_and_the_coin_flip_apart(scored):
    future, half, coin = (board(scored, m, 5) for m in ("openai:future", "openai:half", "gemini:coin"))
    assert future["scores"]["accuracy"] == 1 and future["scores"]["brier"] == 0
    assert half["scores"]["brier"] == pytest.approx(0.25)
    assert half["scores"]["brier_skill"] == pytest.approx(0, abs=0.01)
    low, high = coin["scores"]["intervals"]["ic_mean"]
    assert low < 0 < high
    assert [future["rank"], half["rank"], coin["rank"]] == [1, 2, 3]
    # the window ends at the newest day scored at 5 sessions: the last 5 days wait, outside it
    assert future["scored"] == future["asked"] == 21 * (PREDICTION_DAYS - 5) and future["waiting"] == 0
    assert future["coverage"] == 1 and future["parse_rate"] == 1
    assert future["cost_per_scored"] == pytest.approx(0.001) and future["tokens_per_scored"] == 1100


def test_predictions_whose_horizon_has_not_passed_are_left_waiting(scored):
    last = LAST.isoformat()
    doc = scored.predictions.find_predictions(model_ref="openai:half", day=LAST)[0]
    assert doc["day"] == last and "outcomes" not in doc
    row = board(scored, "openai:half", 20)
    assert row["waiting"] == 0  # the 20-session window ends at the newest day scored at 20
    assert scored.predictions.waiting_count() == 21 * 20 * 3  # the last 20 days of the three full models


def test_a_model_under_the_minimum_count_is_counted_and_not_ranked(scored):
    rare = board(scored, "gemini:rare", 5)
    assert rare["scored"] == 5 and not rare["ranked"] and rare["rank"] is None


def test_late_memorised_and_failed_predictions_are_counted_and_never_scored(collected, settings, clock):
    tickers = collected.bars.stored_tickers()
    b, c, d, a = prediction_days()[:4]  # the answered day last: the window ends at the newest scored day
    for ticker in tickers:
        p = dict.fromkeys((5, 10, 20), 0.6)
        collected.predictions.save_prediction(prediction(a, ticker, "openai:mixed", p))
        collected.predictions.save_prediction(prediction(b, ticker, "openai:mixed", p, late=True))
        collected.predictions.save_prediction(prediction(c, ticker, "openai:mixed", p, memorised=True))
        collected.predictions.save_prediction(prediction(d, ticker, "openai:mixed", {}, status="failed",
                                                         parse_ok=False, error="timeout", horizons=None))
    assert run_evaluate(collected, settings, clock) == 0
    by_day = {doc["day"]: doc for doc in collected.predictions.find_predictions(ticker=tickers[0])}
    assert set(by_day[a.isoformat()]["outcomes"]) == {"5", "10", "20"}
    assert all("outcomes" not in by_day[day.isoformat()] for day in (b, c, d))
    row = board(collected, "openai:mixed", 5)
    assert (row["asked"], row["answered"], row["parsed"], row["scored"]) == (84, 63, 63, 21)
    assert (row["late"], row["memorised"], row["waiting"]) == (21, 21, 0)
    assert row["coverage"] == 0.75 and row["parse_rate"] == 0.75
    assert not row["ranked"]  # 21 scored, under the minimum of 30


def test_a_stock_without_a_bar_at_the_end_is_scored_at_its_last_close(collected, settings, clock, truth):
    """Delisted after 2024-08-21 (its later bars removed): scored with its close of 2024-08-21, in the median too."""
    tickers = collected.bars.stored_tickers()
    gone, day = tickers[0], D(2024, 8, 13)
    collected.stock_db[gone].delete_many({"_id": {"$gt": dt.datetime(2024, 8, 21)}})
    for ticker in tickers:
        collected.predictions.save_prediction(prediction(day, ticker, "openai:half", dict.fromkeys((5, 10), 0.5)))
    assert run_evaluate(collected, settings, clock) == 0
    doc = collected.predictions.find_predictions(ticker=gone, day=day)[0]
    ten = doc["outcomes"]["10"]
    assert ten["end_day"] == "2024-08-28" and ten["priced_day"] == "2024-08-21" and ten["universe"] == 21
    closes = {d["date"].date(): d["close"] for d in collected.bars.read_bars(gone)}
    assert ten["forward_return"] == pytest.approx(closes[D(2024, 8, 21)] / closes[day] - 1, abs=1e-12)
    five = doc["outcomes"]["5"]  # 2024-08-21 is the fifth session (08-15 is a holiday): its own bar
    assert five["priced_day"] == five["end_day"] == "2024-08-21"
    assert five["forward_return"] == pytest.approx(truth[5].loc[(day, gone), "forward"], abs=1e-12)


def test_a_stock_never_stored_is_kept_with_a_reason_and_counted_unpriced(collected, settings, clock):
    day = prediction_days()[0]
    collected.predictions.save_prediction(prediction(day, "999999", "openai:half", {5: 0.5}))
    assert run_evaluate(collected, settings, clock) == 0
    outcome = collected.predictions.find_predictions(ticker="999999")[0]["outcomes"]["5"]
    assert outcome["beat"] is None and outcome["reason"] == f"no stored close of 999999 on or before {day}"
    assert outcome["median_return"] is not None and outcome["universe"] == 21
    row = board(collected, "openai:half", 5)
    assert (row["unpriced"], row["scored"]) == (1, 0) and row["scores"] is None


def _state(storage: Any) -> dict[str, Any]:
    """The predictions with their outcomes and the leaderboard, without the times of the run that wrote them."""
    docs = []
    for doc in storage.predictions.predictions.find({}).sort("_id", 1):
        for outcome in (doc.get("outcomes") or {}).values():
            outcome.pop("scored_utc")
        docs.append(doc)
    board_rows = [{k: v for k, v in r.items() if k != "computed_utc"} for r in storage.predictions.leaderboard_rows()]
    return {"predictions": docs, "leaderboard": board_rows}


def test_a_kill_at_any_write_then_a_rerun_gives_the_same_store(collected, settings, clock, truth, monkeypatch):
    from lib.ai import evaluate as module

    monkeypatch.setattr(module, "WRITE_BATCH", 200)  # several outcome writes to die between
    tickers = collected.bars.stored_tickers()
    for day in prediction_days()[-30:]:
        for ticker in tickers:
            p = {h: float(truth[h]["beat"].get((day, ticker), False)) for h in (5, 10, 20)}
            collected.predictions.save_prediction(prediction(day, ticker, "openai:future", p))

    def fresh() -> Storage:
        store = Storage(mongomock_ng.MongoClient(), prefix="test_")
        copy_store(collected.client, store.client)
        return store

    clean = fresh()
    writes = kill_at_write(clean, None)
    assert run_evaluate(clean, settings, clock) == 0
    total = writes["n"]
    expected = _state(clean)
    assert total > 5 and len(expected["leaderboard"]) == 6
    assert run_evaluate(clean, settings, clock) == 0 and _state(clean) == expected  # a rerun changes nothing
    assert clean.jobs.runs("ai_evaluate")[0]["outcomes"] == 0
    for crash_at in range(1, total + 1):
        store = fresh()
        kill_at_write(store, crash_at)
        try:
            run_evaluate(store, settings, clock)
        except SimulatedKill:
            clock.advance(minutes=settings.lock_timeout_minutes + 1)
            store.on_write = None
            assert run_evaluate(store, settings, clock) == 0
        assert _state(store) == expected, f"differs after a kill at write {crash_at}"
