"""etf_pipeline marks each portfolio with whether the holdings it was picked from were known on its session, and
stores its concentration; the performance summary leaves out the portfolios that were not known."""

from __future__ import annotations

import datetime as dt
import shutil

import mongomock_ng
import pytest

from lib.errors import ConfigError
from lib.markets.us.etf.marks import performance_summary
from lib.markets.us.replay import UsReplaySource
from lib.storage import Storage
from tests.conftest import US_SAMPLE
from tests.helpers import new_york, run_etf, run_rebalance

D = dt.date


def _run(make_settings, clock, root, prefix: str) -> Storage:
    storage = Storage(mongomock_ng.MongoClient(), prefix=prefix)
    settings = make_settings(us_first_run_sessions=8, us_replay_dir=root)
    assert run_etf(storage, settings, new_york(D(2025, 9, 5)), clock) == 0
    return storage


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The bundled files as they are (the sector funds' and IWM's holdings dated 2025-11-30 in as_of.csv) and a
    copy whose as_of.csv dates the same holdings 2024-09-30, before every session: 8 sessions to 2025-09-05."""
    from lib.config import load_settings
    from tests.conftest import PANEL, FakeClock

    def make_settings(**overrides):
        return load_settings(env_file=None, mongodb_uri="mongomock://", krx_sources=["replay"], krx_replay_path=PANEL,
                             us_sources=["replay"], us_min_request_gap_seconds=0, **overrides)

    clock = FakeClock(dt.datetime(2025, 9, 6, tzinfo=dt.UTC))
    known = tmp_path_factory.mktemp("known") / "us"
    shutil.copytree(US_SAMPLE, known)
    as_of = known / "etf_holdings" / "as_of.csv"
    lines = as_of.read_text().splitlines()
    as_of.write_text("\n".join([lines[0], *(ln.replace("2025-11-30", "2024-09-30") for ln in lines[1:])]) + "\n")
    return _run(make_settings, clock, US_SAMPLE, "late_"), _run(make_settings, clock, known, "known_")


def test_a_portfolio_from_a_snapshot_dated_after_its_session_is_marked_not_known(runs):
    late, _ = runs
    doc = late.etf.portfolio(D(2025, 8, 28), 5)
    assert doc["positions"] and doc["holdings_known"] is False and doc["holdings_as_of"] == "2025-11-30"
    after = [s for s in doc["holdings_snapshots"] if s["age_days"] < 0]
    assert after and all(s["as_of"] == "2025-11-30" and s["age_days"] == -94 for s in after)


STANDING = ("sector_", "rank_")  # a position's sector standing (sector_avg_Nd, rank_Nd, sector_peers, ...)


def _picked(position: dict) -> dict:
    return {k: v for k, v in position.items() if not k.startswith(STANDING)}


def test_the_same_picks_from_snapshots_known_on_the_day_are_not_marked(runs):
    late, known = runs
    for period in (5, 10, 20):
        a, b = late.etf.portfolio(D(2025, 8, 28), period), known.etf.portfolio(D(2025, 8, 28), period)
        assert [_picked(p) for p in a["positions"]] == [_picked(p) for p in b["positions"]]
        assert b["holdings_known"] is True and all(s["age_days"] >= 0 for s in b["holdings_snapshots"])
        # the sector standing follows the point-in-time rule: a snapshot dated after the session names no peer
        for pa, pb in zip(a["positions"], b["positions"], strict=True):
            assert set(pa["sector_peers"]) <= set(pb["sector_peers"])
        assert any(len(pa["sector_peers"]) < len(pb["sector_peers"])
                   for pa, pb in zip(a["positions"], b["positions"], strict=True))


def test_the_summary_leaves_out_the_look_ahead_portfolios_and_counts_the_known_ones(runs):
    late, known = runs
    honest = performance_summary(late.etf.portfolio_history(5, 100))
    assert honest["finished"] == 3 and honest["lookahead"] >= 1
    assert honest["counted"] == honest["finished"] - honest["lookahead"]
    assert performance_summary(late.etf.portfolio_history(5, 100), include_lookahead=True)["counted"] == 3
    summary = performance_summary(known.etf.portfolio_history(5, 100))
    assert summary["finished"] == 3 and summary["lookahead"] == 0 and summary["counted"] == 3


def test_each_portfolio_stores_its_largest_weight_and_effective_number_of_holdings(runs):
    late, _ = runs
    doc = late.etf.portfolio(D(2025, 8, 28), 20)
    weights = [p["weight"] for p in doc["positions"]]
    figures = doc["concentration"]
    assert figures["largest_weight"] == pytest.approx(max(weights))
    assert figures["largest_ticker"] == doc["positions"][0]["ticker"]
    assert figures["effective_holdings"] == pytest.approx(1 / sum(w * w for w in weights))


def test_the_monthly_portfolio_carries_the_marks_of_the_portfolios_it_merged(runs):
    late, known = runs
    from lib.config import load_settings
    from tests.conftest import FakeClock

    clock = FakeClock(dt.datetime(2025, 9, 6, tzinfo=dt.UTC))
    settings = load_settings(env_file=None, mongodb_uri="mongomock://", us_sources=["replay"], us_replay_dir=US_SAMPLE)
    for storage, flag in ((late, False), (known, True)):
        assert run_rebalance(storage, settings, new_york(D(2025, 8, 31), 10), clock) == 0
        doc = storage.etf.monthly("2025-08")
        daily = [storage.etf.portfolio(D(2025, 8, 29), p)["holdings_known"] for p in (5, 10, 20)]
        assert doc["holdings_known"] is flag and (False in daily) is (not flag)
        assert doc["concentration"]["largest_weight"] == pytest.approx(max(p["final_weight"] for p in doc["positions"]))


def test_an_unreadable_date_in_as_of_csv_is_one_line_naming_the_file_and_line(tmp_path):
    root = tmp_path / "us"
    shutil.copytree(US_SAMPLE, root)
    (root / "etf_holdings" / "as_of.csv").write_text("etf,as_of\nXLF,2025-11-30\nXLV,11/30/2025\n")
    with pytest.raises(ConfigError, match=r"as_of.csv line 3: as_of '11/30/2025' is not YYYY-MM-DD"):
        UsReplaySource(root)
