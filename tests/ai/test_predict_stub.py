"""The demo's offline prediction stubs: driven over a past day with a simulated clock, they answer through the
same call, checks and storage as a model; the momentum rule leans with the stock's stored 20-day return."""

from __future__ import annotations

import pandas as pd
import pytest

from lib.ai.predict import predict_day
from lib.ai.predict_stub import stub_predict_factory
from lib.markets.krx.market import krx_calendar
from lib.spine.runner import run_job
from tests.ai.test_predict import DAY, EVENING, seed, stored
from tests.conftest import PANEL, FakeClock


def test_the_stubs_answer_a_past_day_stored_at_the_simulated_clock_momentum_leaning_with_the_20_day_return(
        storage, make_settings):
    seed(storage)
    settings = make_settings(ai_predict_models=["openai:stub-momentum", "openai:stub-even"],
                             ai_predict_strategies=["rs_leaders", "golden_cross"], ai_predict_watchlist=[])
    clock = FakeClock(EVENING)
    calendar = krx_calendar(settings)
    assert run_job("ai_predict", settings, storage, clock(), clock,
                   lambda ctx: predict_day(ctx, DAY, stub_predict_factory, calendar), lock_name="ai_predict") == 0
    docs = list(stored(storage).values())
    assert len(docs) == 8 and all(d["status"] == "ok" and not d["late"] for d in docs)
    assert all(d["made_utc"] == EVENING.replace(tzinfo=None) for d in docs)
    assert all(h["probability"] == 0.5 for d in docs if d["model"] == "stub-even" for h in d["horizons"].values())
    panel = pd.read_parquet(PANEL)
    for doc in (d for d in docs if d["model"] == "stub-momentum"):
        closes = panel[(panel.ticker == doc["ticker"]) & (pd.to_datetime(panel.date) <= pd.Timestamp(DAY))
                       & (panel.volume > 0)]["close"].to_numpy()
        change = closes[-1] / closes[-21] - 1
        assert doc["horizons"]["10"]["probability"] == pytest.approx(min(0.8, max(0.2, 0.5 + 2 * change)), abs=1e-3)
        assert doc["horizons"]["10"]["direction"] == ("down" if change < 0 else "up")


def test_a_model_the_stubs_do_not_have_is_refused():
    from lib.ai.llm import ModelSpec

    with pytest.raises(ValueError, match="not a prediction stub"):
        stub_predict_factory(None, ModelSpec("openai", "gpt-4o", 0.0))
