"""demo_predict.py's leaderboard print: what a trader reads off the demo's stub models."""

from __future__ import annotations

import datetime as dt

import mongomock_ng

from demo_predict import _number, print_leaderboard
from lib.storage import Storage
from tests.predictions_data import CONSTANT, store_leaderboard

DAYS = [dt.date(2024, 11, 25), dt.date(2024, 11, 26), dt.date(2024, 11, 27)]


def test_the_printed_leaderboard_gives_units_and_no_top_5_for_a_constant(capsys):
    storage = Storage(mongomock_ng.MongoClient(), prefix="demo_pred_")
    store_leaderboard(storage, dt.datetime(2024, 12, 20, 11, 0), DAYS)
    print_leaderboard(storage, 30)
    out = capsys.readouterr().out
    constant = next(line for line in out.splitlines() if CONSTANT in line)
    # a constant 0.5 ranks nothing: no IC and no top 5 (not the first tickers' return)
    assert constant.split()[-2:] == ["-", "-"]
    assert "top-5 excess (5-session)" in out and "a model is ranked from 30 scored predictions" in out


def test_a_score_rounding_to_zero_prints_plus_zero_not_minus_zero():
    assert _number(-0.00004, "+.3f") == "+0.000" and _number(-0.0006, "+.3f") == "-0.001"
