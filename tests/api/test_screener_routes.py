"""GET /screener: every parameter from a query string, days without data, no look-ahead, YYYY-MM-DD only."""

from __future__ import annotations

import datetime as dt
import typing

import pytest

from lib.analysis.screener import analysis_frames, discover, track_record
from lib.errors import ConfigError

REGISTRY = discover()


def other_value(strategy, name):
    """A valid value of one parameter that differs from its default (the others kept at theirs)."""
    field = strategy.params.model_fields[name]
    default = field.default
    if field.annotation is bool:
        candidates = [not default]
    elif typing.get_origin(field.annotation) is typing.Literal:
        candidates = [v for v in typing.get_args(field.annotation) if v != default]
    else:
        bounds = {type(m).__name__: m for m in field.metadata}
        low, high = bounds["Ge"].ge, bounds["Le"].le
        candidates = [low, high, (low + high) / 2]
        if field.annotation is int:
            candidates = [int(low), int(high), int((low + high) // 2)]
        else:
            candidates = [float(c) for c in candidates]
        candidates = [c for c in candidates if c != default]
    for value in candidates:
        try:
            strategy.parse_params({name: value})
            return value
        except ConfigError:
            continue
    raise AssertionError(f"no valid other value for {strategy.name}.{name}")


CASES = [(s.name, name) for s in REGISTRY for name in s.params.model_fields]


@pytest.mark.parametrize(("strategy_name", "param"), CASES, ids=[f"{s}.{p}" for s, p in CASES])
def test_every_parameter_of_every_strategy_works_from_a_query_string(client, strategy_name, param):
    strategy = REGISTRY[strategy_name]
    value = other_value(strategy, param)
    text = str(value).lower() if isinstance(value, bool) else str(value)
    response = client.get("/screener", params={"strategy_name": strategy_name, param: text, "date": "2024-06-03"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["params"][param] == value and type(body["params"][param]) is type(value)
    assert body["source"] == "computed" and body["track_record"]["as_of_date"] == "2024-06-03"


@pytest.mark.parametrize("strategy", list(REGISTRY), ids=lambda s: s.name)
def test_every_strategys_screen_and_listing_say_what_its_score_means(client, strategy):
    assert strategy.score_meaning.strip(), f"{strategy.name}: declare score_meaning"
    stored = client.get("/screener", params={"strategy_name": strategy.name}).json()
    assert stored["source"] == "stored" and stored["score_meaning"] == strategy.score_meaning
    other = next(iter(strategy.params.model_fields), None)
    if other is not None:  # a computed screen says it too
        value = other_value(strategy, other)
        text = str(value).lower() if isinstance(value, bool) else str(value)
        computed = client.get("/screener", params={"strategy_name": strategy.name, other: text}).json()
        assert computed["source"] == "computed" and computed["score_meaning"] == strategy.score_meaning
    info = client.get(f"/strategies/{strategy.name}").json()
    assert info["score_meaning"] == strategy.score_meaning


def test_the_readme_example_is_served(client):
    response = client.get("/screener", params={"strategy_name": "golden_cross", "fast": "5", "slow": "20"})
    assert response.status_code == 200 and response.json()["params"] == {"fast": 5, "slow": 20, "within_days": 3}


@pytest.mark.parametrize(
    ("day", "status", "words"),
    [
        ("2023-06-01", 404, "no analysed data for 2023-06-01"),  # before the first stored day
        ("2024-09-17", 404, "not a KRX session"),  # Chuseok
        ("2024-12-21", 404, "not a KRX session"),  # Saturday
        ("2024-12-23", 409, "not analysed yet"),  # today (Monday), before its analysis
        ("2025-01-10", 404, "in the future"),
        ("1749772800", 422, "date"),  # Unix seconds
        ("2024-02-30", 422, "not a calendar date"),
        ("2024-12-20T00:00", 422, "date"),
    ],
)
def test_a_day_without_analysed_data_is_never_an_empty_success(client, day, status, words):
    response = client.get("/screener", params={"strategy_name": "volume_spike", "date": day})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert words in error["message"]
    if status in (404, 409):
        assert "2023-12-05..2024-12-20" in error["message"]  # says which days exist


def test_a_past_day_with_default_parameters_sees_no_later_data(client, analysed):
    day = dt.date(2024, 8, 5)
    body = client.get("/screener", params={"strategy_name": "volume_spike", "date": day.isoformat()}).json()
    strategy = REGISTRY["volume_spike"]
    expected = track_record(strategy, strategy.params(), analysis_frames(analysed, day))
    assert body["source"] == "stored" and body["track_record"]["as_of_date"] == "2024-08-05"
    assert body["track_record"]["picks"] == expected["picks"]
    assert body["track_record"]["firing_days"] == expected["firing_days"] >= expected["picks"]
    for horizon, stats in expected["horizons"].items():
        assert body["track_record"]["horizons"][horizon] == pytest.approx(stats)
    latest = analysed.analysis.strategy_stats("volume_spike")
    assert latest["picks"] > body["track_record"]["picks"]  # the latest record counts later picks; this one does not


def test_a_past_day_with_custom_parameters_is_computed_up_to_that_day(client, analysed):
    day = dt.date(2024, 8, 5)
    body = client.get("/screener", params={"strategy_name": "volume_spike", "multiple": "2", "date": "2024-08-05"})
    strategy = REGISTRY["volume_spike"]
    params = strategy.parse_params({"multiple": 2})
    expected = track_record(strategy, params, analysis_frames(analysed, day))
    assert body.json()["track_record"]["picks"] == expected["picks"]
    assert body.json()["track_record"]["firing_days"] == expected["firing_days"]
    assert body.json()["track_record"]["horizons"]["5"] == pytest.approx(expected["horizons"]["5"])


def test_stored_and_computed_answers_agree(client, analysed):
    stored = client.get("/screener", params={"strategy_name": "rsi_oversold_rebound", "date": "2024-11-15"}).json()
    doc = analysed.picks.daily_picks.find_one({"_id": "rsi_oversold_rebound:2024-11-15"})
    analysed.picks.daily_picks.delete_one({"_id": doc["_id"]})
    try:
        computed = client.get("/screener", params={"strategy_name": "rsi_oversold_rebound", "date": "2024-11-15"})
    finally:
        analysed.picks.daily_picks.insert_one(doc)
    computed = computed.json()
    assert stored["source"] == "stored" and computed["source"] == "computed"
    def picks(body):
        return [(p["ticker"], p["reason"]) for p in body["picks"]]

    assert picks(stored) == picks(computed) and stored["count"] > 0
    assert stored["track_record"]["horizons"]["10"] == pytest.approx(computed["track_record"]["horizons"]["10"])


def test_bad_parameters_say_what_to_fix(client):
    def error(**params):
        response = client.get("/screener", params=params)
        assert response.status_code == 422, response.text
        return response.json()["error"]["message"]

    assert "parameter slow" in error(strategy_name="golden_cross", slow="33")
    assert "fast must be shorter than slow" in error(strategy_name="golden_cross", fast="60", slow="20")
    assert "unknown parameter 'nope'" in error(strategy_name="golden_cross", nope="1")
    assert "given twice" in client.get("/screener?strategy_name=golden_cross&fast=5&fast=20").json()["error"]["message"]
    assert "within_days" in error(strategy_name="macd_golden_cross", within_days="abc")
    unknown = client.get("/screener", params={"strategy_name": "x" * 99})
    assert unknown.status_code == 404 and len(unknown.text) < 2000 and "golden_cross" in unknown.text
    huge = client.get("/screener", params={"strategy_name": "x" * 60_000})
    assert huge.status_code == 422 and len(huge.text) < 2000


def test_each_pick_carries_its_change_on_the_day(client, analysed):
    body = client.get("/screener", params={"strategy_name": "rsi_oversold_rebound", "date": "2024-11-15"}).json()
    assert body["picks"]
    for pick in body["picks"]:
        rows = analysed.analysis.recent_analysis(pick["ticker"], 2, end=dt.date(2024, 11, 15))
        assert pick["change"] == pytest.approx(rows[1]["close"] / rows[0]["close"] - 1)
        assert pick["values"]["close"] == rows[1]["close"]



def test_a_far_future_day_is_called_future_not_a_non_session(client):
    response = client.get("/screener", params={"strategy_name": "golden_cross", "date": "2030-01-02"})
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("2030-01-02 is in the future")


def test_custom_parameters_are_named_next_to_the_default_description(client):
    body = client.get("/screener", params={"strategy_name": "golden_cross", "fast": "5", "slow": "20"}).json()
    assert body["description"].startswith(REGISTRY["golden_cross"].description)
    assert body["description"].endswith("this answer used fast=5, slow=20)")
    default = client.get("/screener", params={"strategy_name": "golden_cross"}).json()
    assert default["description"] == REGISTRY["golden_cross"].description


def test_a_custom_screen_before_what_cleanup_kept_is_a_404_not_an_empty_answer(client, analysed):
    cut = dt.date(2024, 6, 3)
    removed = list(analysed.analysis.screening.find({"_id": {"$lt": f"{cut.isoformat()}:"}}))
    analysed.analysis.delete_screening_before(cut)
    try:
        params = {"strategy_name": "macd_golden_cross", "within_days": "4"}  # a 60-session lookback
        old = client.get("/screener", params={**params, "date": "2024-03-15"})
        assert old.status_code == 404
        error = old.json()["error"]
        assert "RETENTION_SCREENING_DAYS" in error["message"]
        answerable = dt.date.fromisoformat(error["details"]["first_day"])
        assert answerable > cut
        assert client.get("/screener", params={**params, "date": answerable.isoformat()}).status_code == 200
        # the default parameters' stored picks still answer the old day
        stored = client.get("/screener", params={"strategy_name": "macd_golden_cross", "date": "2024-03-15"})
        assert stored.status_code == 200 and stored.json()["source"] == "stored"
    finally:
        analysed.analysis.screening.insert_many(removed)
        analysed.analysis.refresh_screening_span()


def test_stored_picks_carry_their_change_and_older_stored_picks_still_get_it(client, analysed, monkeypatch):
    key = "rsi_oversold_rebound:2024-11-15"
    doc = analysed.picks.daily_picks.find_one({"_id": key})
    assert doc["picks"] and all("change" in p for p in doc["picks"])
    with monkeypatch.context() as patched:  # the answer is the stored document: no read per pick
        patched.setattr(type(analysed.analysis), "recent_analysis", lambda *a, **k: pytest.fail("read per pick"))
        served = client.get("/screener", params={"strategy_name": "rsi_oversold_rebound", "date": "2024-11-15"})
    assert [p["change"] for p in served.json()["picks"]] == [p["change"] for p in doc["picks"]]
    old = {**doc, "picks": [{k: v for k, v in p.items() if k != "change"} for p in doc["picks"]]}
    analysed.picks.daily_picks.replace_one({"_id": key}, old)  # stored before the change was stored with the picks
    try:
        fallback = client.get("/screener", params={"strategy_name": "rsi_oversold_rebound", "date": "2024-11-15"})
    finally:
        analysed.picks.daily_picks.replace_one({"_id": key}, doc)
    assert [p["change"] for p in fallback.json()["picks"]] == pytest.approx([p["change"] for p in doc["picks"]])


def test_a_custom_screen_reads_the_column_wise_copies_and_answers_what_the_rows_say(analysed, monkeypatch):
    from api import screener as routes
    from lib.spine.calendar import TradingCalendar

    strategy, day = REGISTRY["minervini_trend_template"], dt.date(2024, 12, 20)
    params = strategy.parse_params({"min_rs_rating": 0, "within_high": 0.4})
    assert analysed.columns.analysis_columns_through() == day
    with monkeypatch.context() as patched:  # the copies answer: no read of any ticker's rows
        patched.setattr(type(analysed.analysis), "read_analysis", lambda *a, **k: pytest.fail("rows read"))
        from_copies = routes._compute(
            analysed, TradingCalendar(exchange="XKRX", settings_prefix="KRX"), strategy, params, day
        )
    with monkeypatch.context() as patched:  # no copies (a store written before them): the rows
        patched.setattr(type(analysed.columns), "analysis_columns_through", lambda self: None)
        from_rows = routes._compute(
            analysed, TradingCalendar(exchange="XKRX", settings_prefix="KRX"), strategy, params, day
        )
    assert from_copies.count > 0
    assert from_copies.model_dump() == from_rows.model_dump()


def test_a_custom_screen_is_refused_at_once_while_every_compute_slot_is_busy(make_client):
    import time

    client = make_client(compute_slots=1)
    params = {"strategy_name": "adx_trend", "min_adx": "27.13"}
    with client.app.state.compute_slots.slot("a screen held by the test"):
        started = time.monotonic()
        busy = client.get("/screener", params=params)
        assert time.monotonic() - started < 2
        assert client.get("/health").status_code == 200
        assert client.get("/screener", params={"strategy_name": "adx_trend"}).status_code == 200  # stored
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
    assert busy.json()["error"]["code"] == "busy" and "retry" in busy.json()["error"]["message"]
    assert client.get("/screener", params=params).status_code == 200  # a slot is free again


def test_the_compute_meter_refuses_a_client_over_its_hourly_budget(make_client):
    from tests.api.conftest import KEY

    client = make_client(compute_rate_limit_per_hour=2)
    for value in ("33.1", "33.2"):
        assert client.get("/screener", params={"strategy_name": "adx_trend", "min_adx": value}).status_code == 200
    again = client.get("/screener", params={"strategy_name": "adx_trend", "min_adx": "33.1"})
    assert again.status_code == 200  # cached: computes nothing, costs nothing
    over = client.get("/screener", params={"strategy_name": "adx_trend", "min_adx": "33.3"})
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    error = over.json()["error"]
    assert error["code"] == "rate_limited" and "COMPUTE_RATE_LIMIT_PER_HOUR" in error["message"]
    assert client.get("/screener", params={"strategy_name": "adx_trend"}).status_code == 200  # stored: not metered
    other = client.get("/screener", params={"strategy_name": "adx_trend", "min_adx": "33.3"},
                       headers={"X-API-Key": KEY})
    assert other.status_code == 200  # another client (its key) has its own budget


def test_busy_and_metered_answers_are_documented(client):
    responses = client.get("/openapi.json").json()["paths"]["/screener"]["get"]["responses"]
    assert {"429", "503"} <= set(responses)
    assert responses["429"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
