"""The prediction batch: one input per stock asked of every model, each answer stored at once in the documented
shape, never asked twice, late and memorised marked, bad answers re-asked then stored failed; the script."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from langchain_core.outputs import ChatGeneration, ChatResult

import ai_predict
from lib.ai.context import Context, Filing
from lib.ai.llm import ModelSpec
from lib.ai.predict import predict_latest
from lib.ai.predict_plan import batch_stocks, deadline
from lib.ai.predict_stub import _stock_block
from lib.analysis.indicators import compute_frame, row_documents
from lib.cli import open_storage
from lib.markets.krx.market import krx_calendar
from lib.ops.alerts import alert_after_job
from lib.spine.runner import run_job
from lib.storage import Storage
from tests.conftest import PANEL, FakeClock
from tests.helpers import SimulatedKill, kill_at_write
from tests.llm_fakes import StructuredFakeChatModel, reply

DAY = dt.date(2024, 12, 20)  # a Friday of the small real panel; the next session opens Mon 2024-12-23 09:00 KST
OPEN_UTC = dt.datetime(2024, 12, 23, 0, 0, tzinfo=dt.UTC)
EVENING = dt.datetime(2024, 12, 20, 14, 40, tzinfo=dt.UTC)  # 23:40 KST, the cron run
# Test-only picks (the score order is what matters): tickers of the small panel.
PICKS = {"rs_leaders": [("000660", 3.0), ("005930", 2.0), ("001080", 1.0)],
         "golden_cross": [("005930", 9.0), ("000670", 5.0)]}
MODELS = ["openai:model-a", "gemini:model-b"]
FIELDS = {"_id", "day", "market", "ticker", "provider", "model", "model_ref", "prompt", "prompt_version",
          "input_digest", "context_ids", "cutoff_utc", "made_utc", "deadline_utc", "late", "memorised", "status",
          "error", "error_kind", "parse_ok", "attempts", "model_calls", "usage", "cost_usd", "latency_ms", "horizons"}


def seed(storage: Storage, tickers: set[str] | None = None) -> None:
    """Indicator rows of the panel's stocks up to DAY (computed as the analysis does) and the picks of DAY."""
    panel = pd.read_parquet(PANEL)
    panel["date"] = pd.to_datetime(panel["date"])
    wanted = tickers or {t for picks in PICKS.values() for t, _ in picks} | {"000860"}
    for ticker in sorted(wanted):
        bars = panel[(panel.ticker == ticker) & (panel.date <= pd.Timestamp(DAY))].tail(80)
        rows = row_documents(compute_frame(bars[["date", "open", "high", "low", "close", "volume"]]
                                           .reset_index(drop=True)))
        storage.analysis.replace_analysis(ticker, [{**r, "date": r["date"].to_pydatetime()} for r in rows])
    storage.picks.save_daily_picks([
        {"strategy": name, "date": DAY.isoformat(), "params": {}, "count": len(picks),
         "picks": [{"ticker": t, "score": s, "reason": f"{name} test pick", "values": {}} for t, s in picks]}
        for name, picks in PICKS.items()
    ])
    storage.picks.save_picks_state(DAY, DAY, list(PICKS))


def good(ticker: str, probability: float = 0.62) -> dict[str, Any]:
    direction = "up" if probability > 0.5 else "down"
    return {"ticker": ticker, "horizons": [
        {"sessions": h, "probability": probability, "direction": direction, "reason": "momentum above its mean",
         "citations": []} for h in (5, 10, 20)]}


class RuleModel(StructuredFakeChatModel):
    """Answers each call from `answer(ticker, call number)`: a reply's content, or an exception to raise."""

    answer: Any = None

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # noqa: ANN001, ANN202
        self.received.append(list(messages))
        ticker = re.search(r"will (\S+) beat", " ".join(str(m.content) for m in messages)).group(1)
        content = self.answer(ticker, len(self.received))
        if isinstance(content, Exception):
            raise content
        return ChatResult(generations=[ChatGeneration(message=reply(content, tokens=(1000, 200)))])


class Models:
    """A factory of rule models that outlive a restart, so calls are counted across runs."""

    def __init__(self, **answers: Callable[[str, int], Any]) -> None:
        self.answers = answers
        self.built: dict[str, RuleModel] = {}

    def __call__(self, settings: Any, spec: ModelSpec) -> RuleModel:
        ref = f"{spec.provider}:{spec.model}"
        answer = self.answers.get(ref, lambda t, n: good(t))
        return self.built.setdefault(ref, RuleModel(messages=iter(()), received=[], answer=answer))

    def asked(self, ref: str) -> list[str]:
        """The tickers each call of a model asked about (re-asks included)."""
        return [re.search(r"will (\S+) beat", " ".join(str(m.content) for m in msgs)).group(1)
                for msgs in self.built[ref].received]


@pytest.fixture
def settings(make_settings):
    return make_settings(ai_predict_models=MODELS, ai_predict_strategies=["rs_leaders", "golden_cross"],
                         ai_predict_watchlist=["000860", "000660"], llm_parse_retries=1,
                         ai_model_prices={"openai:model-a": (0.5, 2.0)})


def run(storage: Storage, settings: Any, clock: FakeClock, models: Models) -> int:
    calendar = krx_calendar(settings)
    return run_job("ai_predict", settings, storage, clock(), clock, lambda ctx: predict_latest(ctx, models, calendar),
                   lock_name="ai_predict", after=alert_after_job)


def stored(storage: Storage) -> dict[str, dict[str, Any]]:
    return {d["_id"]: d for d in storage.predictions.find_predictions()}


def test_the_stocks_are_each_strategys_picks_by_score_then_the_watchlist_once_each_capped(storage, settings):
    seed(storage)
    assert [t for t, _, _ in batch_stocks(storage, settings, DAY)] == ["000660", "005930", "001080", "000670",
                                                                      "000860"]
    chosen = {t: by for t, _, by in batch_stocks(storage, settings, DAY)}
    assert chosen["005930"] == ["rs_leaders", "golden_cross"] and chosen["000660"] == ["rs_leaders", "watchlist"]
    capped = settings.updated(ai_predict_max_per_day=2)
    assert [t for t, _, _ in batch_stocks(storage, capped, DAY)] == ["000660", "005930"]


def test_every_model_receives_identical_messages_and_every_document_has_every_field(storage, settings):
    seed(storage)
    clock = FakeClock(EVENING)
    models = Models()
    assert run(storage, settings, clock, models) == 0
    a, b = models.built["openai:model-a"].received, models.built["gemini:model-b"].received
    assert len(a) == len(b) == 5
    assert [[m.content for m in msgs] for msgs in a] == [[m.content for m in msgs] for msgs in b]
    docs = stored(storage)
    assert len(docs) == 10
    for doc in docs.values():
        assert FIELDS <= set(doc), FIELDS - set(doc)
        assert doc["status"] == "ok" and doc["parse_ok"] is True and not doc["late"] and not doc["memorised"]
        assert doc["deadline_utc"] == OPEN_UTC.replace(tzinfo=None)
        assert doc["cutoff_utc"] == dt.datetime(2024, 12, 20, 14, 59, 59, 999000)  # the day's end in Seoul
        assert doc["made_utc"] == EVENING.replace(tzinfo=None) and doc["prompt"] == "predict_outlook"
        assert set(doc["horizons"]) == {"5", "10", "20"}
        assert doc["horizons"]["5"] == {"probability": 0.62, "direction": "up",
                                        "reason": "momentum above its mean", "citations": []}
        assert doc["usage"]["input_tokens"] == 1000 and doc["attempts"] == 1
    by_stock = {}
    for doc in docs.values():
        by_stock.setdefault(doc["ticker"], set()).add(doc["input_digest"])
    assert all(len(digests) == 1 for digests in by_stock.values())  # one input per stock, whatever the model
    priced = [d for d in docs.values() if d["model_ref"] == "openai:model-a"]
    assert all(d["cost_usd"] == pytest.approx((1000 * 0.5 + 200 * 2.0) / 1e6) for d in priced)
    assert all(d["cost_usd"] is None for d in docs.values() if d["model_ref"] == "gemini:model-b")  # no price set


def test_a_kill_at_any_write_then_a_rerun_asks_no_model_twice_and_ends_with_the_same_store(storage, settings):
    seed(storage)
    models = Models()
    writes = kill_at_write(storage, None)
    assert run(storage, settings, FakeClock(EVENING), models) == 0
    total = writes["n"]

    def comparable(docs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {k: {f: v for f, v in d.items() if f not in ("made_utc", "latency_ms")} for k, d in docs.items()}

    expected = comparable(stored(storage))
    for crash_at in range(1, total + 1):
        fresh = Storage(type(storage.client)(), prefix="kill_")
        seed(fresh)
        models = Models()
        clock = FakeClock(EVENING)
        kill_at_write(fresh, crash_at)
        try:
            assert run(fresh, settings, clock, models) == 0
            continue  # the crash write was after the run's end (its alert step)
        except SimulatedKill:
            kill_at_write(fresh, None)
            kept = {(d["ticker"], d["model_ref"]) for d in stored(fresh).values()}
            before = {ref: len(models.asked(ref)) if ref in models.built else 0 for ref in MODELS}
            clock.advance(minutes=settings.lock_timeout_minutes + 1)
            assert run(fresh, settings, clock, models) == 0
        assert comparable(stored(fresh)) == expected, crash_at
        for ref in MODELS:
            again = models.asked(ref)[before[ref]:]
            assert not {(t, ref) for t in again} & kept, (crash_at, ref)  # nothing stored is asked again
            assert len(again) == 5 - sum(r == ref for _, r in kept), (crash_at, ref)  # only what was not stored


def test_a_prediction_made_after_the_next_open_is_marked_late(storage, settings):
    seed(storage)
    clock = FakeClock(OPEN_UTC - dt.timedelta(minutes=1))

    def slow(ticker: str, n: int) -> Any:
        clock.advance(minutes=1)  # the first answer arrives exactly at the open
        return good(ticker)

    models = Models(**{"openai:model-a": slow})
    assert run(storage, settings.updated(ai_predict_models=["openai:model-a"]), clock, models) == 0
    docs = sorted(stored(storage).values(), key=lambda d: d["made_utc"])
    assert docs and all(d["late"] for d in docs)
    assert docs[0]["made_utc"] == OPEN_UTC.replace(tzinfo=None)


def test_a_run_after_the_open_asks_nothing_and_says_so(storage, settings, caplog):
    seed(storage)
    models = Models()
    with caplog.at_level(logging.INFO, logger="pipeline"):
        assert run(storage, settings, FakeClock(OPEN_UTC + dt.timedelta(minutes=5)), models) == 0
    assert stored(storage) == {} and not any(m.received for m in models.built.values())
    assert "past that: nothing asked" in caplog.text


def test_a_day_before_a_models_knowledge_cutoff_is_marked_memorised(storage, settings):
    seed(storage)
    cutoffs = settings.updated(ai_model_knowledge_cutoffs={"gemini:model-b": dt.date(2025, 1, 31),
                                                           "openai:model-a": DAY})
    assert run(storage, cutoffs, FakeClock(EVENING), Models()) == 0
    docs = stored(storage).values()
    assert all(d["memorised"] for d in docs if d["model_ref"] == "gemini:model-b")
    assert not any(d["memorised"] for d in docs if d["model_ref"] == "openai:model-a")  # the cutoff day itself


@pytest.mark.parametrize("bad", [
    lambda t: {**good(t), "horizons": good(t)["horizons"][:2]},  # the 20-session horizon missing
    lambda t: {**good(t), "horizons": [{**h, "citations": ["D1"]} for h in good(t)["horizons"]]},  # not given
    lambda t: good(t, probability=0.3) | {"horizons": [{**h, "direction": "up"} for h in good(t, 0.3)["horizons"]]},
], ids=["missing_horizon", "unknown_citation", "direction_against_probability"])
def test_a_broken_answer_is_re_asked_then_stored_failed_for_good(storage, settings, bad):
    seed(storage)
    models = Models(**{"openai:model-a": lambda t, n: bad(t)})
    assert run(storage, settings, FakeClock(EVENING), models) == 0
    failed = [d for d in stored(storage).values() if d["model_ref"] == "openai:model-a"]
    assert len(failed) == 5
    for doc in failed:
        assert doc["status"] == "failed" and doc["error_kind"] == "unparseable" and doc["parse_ok"] is False
        assert doc["attempts"] == 2 and doc["horizons"] == {} and doc["error"]
    assert all(d["status"] == "ok" for d in stored(storage).values() if d["model_ref"] == "gemini:model-b")
    assert run(storage, settings, FakeClock(EVENING + dt.timedelta(hours=1)), models) == 0
    assert len(models.asked("openai:model-a")) == 10  # 5 stocks x 2 attempts, and none asked again


def test_a_provider_failure_is_stored_and_asked_again_by_the_next_run(storage, settings):
    seed(storage)
    down = {"on": True}

    def flaky(ticker: str, n: int) -> Any:
        return ConnectionError("HTTP 503 from the provider") if down["on"] and ticker == "005930" else good(ticker)

    models = Models(**{"openai:model-a": flaky})
    assert run(storage, settings, FakeClock(EVENING), models) == 1  # failed, alerted: the morning run retries
    doc = next(d for d in stored(storage).values() if d["ticker"] == "005930" and d["model_ref"] == "openai:model-a")
    assert doc["status"] == "failed" and doc["error_kind"] == "provider" and doc["parse_ok"] is None
    down["on"] = False
    assert run(storage, settings, FakeClock(EVENING + dt.timedelta(hours=8)), models) == 0
    doc = stored(storage)[doc["_id"]]
    assert doc["status"] == "ok" and doc["error_kind"] is None
    assert models.asked("openai:model-a").count("005930") == 2 and models.asked("openai:model-a").count("000660") == 1


def test_the_deadline_is_the_next_sessions_open_a_late_open_included(make_settings):
    calendar = krx_calendar(make_settings())
    assert deadline(calendar, DAY) == OPEN_UTC
    # the year's first session opens at 10:00 KST: 2025-01-02 after 2024-12-30
    assert deadline(calendar, dt.date(2024, 12, 30)) == dt.datetime(2025, 1, 2, 1, 0, tzinfo=dt.UTC)


def test_the_script_is_off_with_one_line_when_no_model_is_set(make_settings, capsys):
    assert ai_predict.main([], make_settings()) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "ai_predict is off: AI_PREDICT_MODELS is blank" in lines[0]


def test_the_script_predicts_the_latest_analysed_day_and_a_missing_key_exits_2(settings, capsys):
    seed(open_storage(settings))
    models = Models()
    assert ai_predict.main([], settings, factory=models, clock=FakeClock(EVENING)) == 0
    assert len(stored(open_storage(settings))) == 10
    # the real factory without GOOGLE_API_KEY / OPENAI_API_KEY: a human must set one
    assert ai_predict.main([], settings.updated(ai_predict_models=["gemini:gemini-2.5-flash"]),
                           clock=FakeClock(EVENING)) == 2
    # the line names the model of AI_PREDICT_MODELS and its key, not LLM_PROVIDER (which predictions ignore)
    err = capsys.readouterr().err
    assert "AI_PREDICT_MODELS names gemini:gemini-2.5-flash but GOOGLE_API_KEY is not set" in err
    assert "LLM_PROVIDER" not in err


def test_a_retry_the_next_morning_gets_the_evenings_input_even_when_the_context_grew(storage, settings, monkeypatch):
    seed(storage)
    down = {"on": True}

    def flaky(ticker: str, n: int) -> Any:
        return TimeoutError("read timed out") if down["on"] else good(ticker)

    models = Models(**{"gemini:model-b": flaky})
    assert run(storage, settings, FakeClock(EVENING), models) == 1
    assert all(d["error_kind"] == "timeout" for d in stored(storage).values() if d["model_ref"] == "gemini:model-b")
    # overnight a filing of the day is found late: a fresh context block would now list it
    import lib.ai.predict as predict

    grown = Context(cutoff="2024-12-20T23:59:59+09:00", filings=[Filing(
        id="D1", ticker="000660", date="2024-12-20", title="late filing", filer="f", flags="", source="dart",
        url="https://dart.example.test/1", key="k1")])
    monkeypatch.setattr(predict, "universe_context", lambda *args: grown)
    down["on"] = False
    assert run(storage, settings, FakeClock(EVENING + dt.timedelta(hours=8)), models) == 0
    evening = [[m.content for m in msgs] for msgs in models.built["openai:model-a"].received]
    morning = [[m.content for m in msgs] for msgs in models.built["gemini:model-b"].received[-5:]]
    assert morning == evening and "late filing" not in str(morning)
    docs = stored(storage).values()
    assert all(d["status"] == "ok" and d["context_ids"] == [] for d in docs)
    assert sum("input" in d for d in docs) == 5  # one copy of each stock's input


def test_a_strategy_setting_naming_no_strategy_stops_the_script_with_exit_2(settings, capsys):
    seed(open_storage(settings))
    models = Models()
    assert ai_predict.main([], settings.updated(ai_predict_strategies=["rs_leaders", "no_such"]), factory=models,
                           clock=FakeClock(EVENING)) == 2
    assert "AI_PREDICT_STRATEGIES names no_such" in capsys.readouterr().err
    assert not any(m.received for m in models.built.values())


def test_a_past_day_is_not_sent_a_market_cap_measured_after_it(storage, settings):
    seed(storage, {"005930"})
    storage.universe.tickers.insert_many([
        {"ticker": "005930", "name": "Samsung", "market": "KOSPI", "market_cap": 3.5e14, "is_active": True,
         "as_of_date": "2025-06-16"},  # refreshed after DAY: its cap would tell how the price moved since
        {"ticker": "000660", "name": "SK hynix", "market": "KOSPI", "market_cap": 1.2e14, "is_active": True,
         "as_of_date": DAY.isoformat()},  # measured on DAY itself: known at the cutoff
    ])
    seed(storage, {"000660"})
    settings = settings.updated(ai_predict_strategies=[], ai_predict_watchlist=["005930", "000660"])
    clock = FakeClock(EVENING)
    assert run(storage, settings, clock, Models()) == 0
    sent = {d["ticker"]: _stock_block(d["input"]["stock"])["market_cap_krw"] for d in stored(storage).values()
            if "input" in d}
    assert sent == {"005930": None, "000660": 1.2e14}
