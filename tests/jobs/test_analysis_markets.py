"""hourly_analysis.py --market: each market's stocks are analysed in its own collections, under its own job name."""

from __future__ import annotations

import pytest

import hourly_analysis
import lib.spine.registry
from lib.storage import Storage, get_client
from tests.us_scope import LAST_US_DAY, US_TICKERS, seed_us, two_markets


@pytest.fixture
def with_us(monkeypatch):
    """The installed registry plus a US stocks dataset; returns a function that swaps in another one."""

    def install(registry=None):
        monkeypatch.setattr(lib.spine.registry, "_registry", registry or two_markets())

    install()
    return install


def test_the_us_analysis_stores_its_picks_in_the_us_collections_and_none_in_krx_s(with_us, make_settings):
    settings = make_settings(analysis_quota_per_run=100)
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    us = seed_us(storage)
    assert hourly_analysis.main(["--market", "us", "--today", LAST_US_DAY.isoformat()], settings=settings) == 0
    run = storage.jobs.runs("us_analysis")[0]
    assert run["status"] == "completed" and run["day"] == "2025-09-30" and run["analysed"] == len(US_TICKERS)
    assert us.picks.latest_analysis_day() == LAST_US_DAY
    fired = list(us.picks.daily_picks.find({"count": {"$gt": 0}}))
    assert {d["strategy"] for d in fired}  # some strategy fired
    reasons = [p["reason"] for d in fired for p in d["picks"] if "golden" in d["strategy"] or "52w" in d["strategy"]]
    assert reasons and all("USD" in r and "KRW" not in r for r in reasons)  # prices stated in the market's currency
    assert sorted(us.analysis.analysed_tickers()) == sorted(US_TICKERS)
    assert all(us.analysis.strategy_stats(s)["as_of_date"] == "2025-09-30" for s in ("golden_cross", "rs_leaders"))
    # KRX's collections are untouched: no picks, no analysed ticker, no KRX run
    assert storage.picks.latest_analysis_day() is None and storage.analysis.analysed_tickers() == []
    assert storage.jobs.runs("hourly_analysis") == []


def test_an_unknown_market_is_one_line_naming_the_known_ones_and_exit_2(with_us, make_settings, capsys):
    assert hourly_analysis.main(["--market", "jp"], settings=make_settings()) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--market jp: no market with screened stocks of that name; known: krx, us" in lines[0]


def test_a_market_off_on_this_install_says_so_and_exits_0_recording_nothing(with_us, make_settings, capsys):
    with_us(two_markets(off=lambda _settings: "US_STOCKS is false"))
    assert hourly_analysis.main(["--market", "us"], settings=make_settings()) == 0
    assert "us.stocks is off: US_STOCKS is false" in capsys.readouterr().err
    assert Storage(get_client("mongomock://")).jobs.runs("us_analysis") == []
