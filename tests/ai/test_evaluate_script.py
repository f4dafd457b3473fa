"""ai_evaluate.py as cron runs it: on the embedded database after manual_setup, its run record, a rerun with
nothing to do, and the refusals a user can meet."""

from __future__ import annotations

import datetime as dt
import re

import pytest

import ai_evaluate
import manual_setup
from lib.storage import Storage, get_client
from tests.ai.test_evaluate import prediction


def test_the_script_scores_what_is_due_stores_the_leaderboard_and_a_rerun_writes_nothing(make_settings):
    settings = make_settings(setup_history_sessions=30, ai_leaderboard_min_count=5)
    assert manual_setup.main(["--today", "2024-08-30"], settings=settings) == 0
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    tickers = storage.bars.stored_tickers()
    for day in (dt.date(2024, 8, 20), dt.date(2024, 8, 29)):  # 5 sessions after 08-29 are not collected yet
        for ticker in tickers:
            storage.predictions.save_prediction(prediction(day, ticker, "openai:half", {5: 0.5, 10: 0.5}))
    assert ai_evaluate.main(["--today", "2024-08-30"], settings=settings) == 0
    run = storage.jobs.runs("ai_evaluate")[0]
    assert run["status"] == "completed" and run["outcomes"] == len(tickers) and run["unpriced"] == 0
    assert run["waiting"] == 2 * len(tickers)  # nothing has its 20-session outcome yet
    done = storage.predictions.find_predictions(day=dt.date(2024, 8, 20))
    assert all(set(doc["outcomes"]) == {"5"} and doc["outcomes"]["5"]["end_day"] == "2024-08-27" for doc in done)
    rows = storage.predictions.leaderboard_rows(horizon=5, window=0)
    assert [(r["model_ref"], r["scored"], r["ranked"], r["rank"]) for r in rows] == [
        ("openai:half", len(tickers), True, 1)]
    stamp = rows[0]["computed_utc"]
    assert ai_evaluate.main(["--today", "2024-08-30"], settings=settings) == 0
    assert storage.jobs.runs("ai_evaluate")[0]["outcomes"] == 0
    assert storage.predictions.leaderboard_rows(horizon=5, window=0)[0]["computed_utc"] == stamp  # not rewritten


def test_the_script_reads_stored_bars_only_so_a_source_without_its_key_does_not_stop_it(make_settings, capsys):
    settings = make_settings(krx_sources=["krx_openapi"])  # KRX_OPENAPI_KEY not set: a collection would stop
    assert ai_evaluate.main(["--today", "2024-08-30"], settings=settings) == 0
    assert "no predictions are stored yet" in capsys.readouterr().err


def test_without_mongodb_uri_the_script_says_so_in_one_line_and_exits_2(make_settings, capsys):
    assert ai_evaluate.main(["--today", "2024-08-30"], settings=make_settings(mongodb_uri=None)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and re.search(r"ai_evaluate ERROR MONGODB_URI is not set", lines[0])


def test_a_bad_date_argument_is_a_usage_error(make_settings):
    with pytest.raises(SystemExit) as exit_info:
        ai_evaluate.main(["--today", "2024-02-30"], settings=make_settings())
    assert exit_info.value.code == 2
