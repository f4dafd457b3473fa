"""A bar stored for a session earlier than sessions already computed (a hole filled late, a --redo, a restated
close) computes again everything that depends on it, with no --redo: the day change of the next session, the
trending rows of the next 20 sessions, the portfolios and their performance, the monthly portfolio merged from
them; and a run killed in the middle of it is repaired by the next."""

from __future__ import annotations

import datetime as dt
import shutil

import mongomock_ng
import pytest

from lib.storage import Storage
from tests.batch_cut import BatchCut, Cut, cut_points
from tests.conftest import US_SAMPLE
from tests.helpers import SimulatedKill, etf_snapshot, new_york, run_etf, run_rebalance

D = dt.date
DERIVED = ("collected_daily_etf_ohlc", "analytics_trending_etfs", "analytics_portfolio_allocation",
           "analytics_monthly_portfolio")


def _without_rows(tmp_path, holes: dict[str, list[str]]):
    """A copy of the bundled folder without these ETFs' rows of these dates."""
    root = tmp_path / "us"
    shutil.copytree(US_SAMPLE, root)
    for ticker, days in holes.items():
        path = root / "us_etf" / f"{ticker}.csv"
        lines = [line for line in path.read_text().splitlines() if not line.startswith(tuple(days))]
        path.write_text("\n".join(lines) + "\n")
    return root


def _restore(root, tickers):
    for ticker in tickers:
        shutil.copy(US_SAMPLE / "us_etf" / f"{ticker}.csv", root / "us_etf" / f"{ticker}.csv")


def _derived(storage: Storage) -> dict[str, list[dict]]:
    return {name: sorted(storage.etf_db[name].find({}), key=lambda d: d["_id"]) for name in DERIVED}


def test_a_hole_filled_later_gives_the_rows_a_run_without_the_hole_gives(make_settings, clock, tmp_path):
    # The reviewer's reproduction (XLF's 2025-09-15 row missing, run to 09-30, row restored, run again), plus
    # XLRE's 09-19 row: the start close of its 5-session return on 09-26, the base session of September's
    # rebalance, so the monthly portfolio depends on it too.
    root = _without_rows(tmp_path, {"XLF": ["2025-09-15"], "XLRE": ["2025-09-19"]})
    settings = make_settings(us_replay_dir=root)
    healed = Storage(mongomock_ng.MongoClient(), prefix="h_")
    assert run_etf(healed, settings, new_york(D(2025, 9, 30)), clock) == 2  # a file lacks rows: fix it
    assert run_rebalance(healed, settings, new_york(D(2025, 9, 30)), clock) == 0
    spy_only = healed.etf.monthly("2025-09")
    assert healed.etf.etf_bars("XLF", D(2025, 9, 16), D(2025, 9, 16))[0]["price_change_percent"] is None
    assert healed.etf_db["analytics_trending_etfs"].find_one({"_id": "2025-09-22:5:XLF"})["return_nd"] is None
    assert "WELL" not in [p["ticker"] for p in healed.etf.portfolio(D(2025, 9, 26), 5)["positions"]]

    _restore(root, ["XLF", "XLRE"])
    assert run_etf(healed, settings, new_york(D(2025, 9, 30)), clock) == 0  # no --redo

    clean = Storage(mongomock_ng.MongoClient(), prefix="c_")
    complete = make_settings()
    assert run_etf(clean, complete, new_york(D(2025, 9, 30)), clock) == 0
    assert run_rebalance(clean, complete, new_york(D(2025, 9, 30)), clock) == 0
    expected = _derived(clean)
    got = _derived(healed)
    for name in DERIVED:
        assert got[name] == expected[name], name
    xlf = healed.etf.etf_bars("XLF", D(2025, 9, 16), D(2025, 9, 16))[0]
    assert xlf["price_change_percent"] == pytest.approx((53.198333740234375 / 53.31752014160156 - 1) * 100)
    assert healed.etf_db["analytics_trending_etfs"].find_one({"_id": "2025-09-22:5:XLF"})["return_nd"] is not None
    assert "WELL" in [p["ticker"] for p in healed.etf.portfolio(D(2025, 9, 26), 5)["positions"]]
    assert healed.etf.monthly("2025-09") != spy_only and "WELL" in [p["ticker"] for p in healed.etf.monthly("2025-09")[
        "positions"]]
    assert healed.etf.recompute_pending() == []
    assert healed.jobs.runs("etf_pipeline")[0]["recomputed_sessions"] > 0


def test_nothing_is_computed_again_when_only_new_sessions_are_stored(storage, make_settings, clock):
    settings = make_settings(us_first_run_sessions=3)
    assert run_etf(storage, settings, new_york(D(2025, 7, 31)), clock) == 0
    assert run_etf(storage, settings, new_york(D(2025, 8, 8)), clock) == 0
    assert storage.jobs.runs("etf_pipeline")[0]["recomputed_sessions"] == 0
    assert storage.etf.recompute_pending() == []


# --- a kill in the middle of the recomputation --------------------------------------------------------------


def _healing_run(root, settings, clock, crash_at: int | None) -> Storage:
    """The hole's run (XLU's 07-24 row missing: the start close of its 5-session return on 07-31), the row
    restored, then the healing run, killed at its write `crash_at` and run again."""
    storage = Storage(mongomock_ng.MongoClient(), prefix="k_")
    _without_rows(root.parent / f"k{crash_at}", {"XLU": ["2025-07-24"]})
    folder = root.parent / f"k{crash_at}" / "us"
    holed = settings.updated(us_replay_dir=folder)
    assert run_etf(storage, holed, new_york(D(2025, 7, 31)), clock) == 2
    _restore(folder, ["XLU"])
    writes = {"n": 0}

    def on_write(_what: str) -> None:
        writes["n"] += 1
        if writes["n"] == crash_at:
            raise SimulatedKill

    storage.on_write = on_write
    try:
        assert run_etf(storage, holed, new_york(D(2025, 7, 31)), clock) == 0
    except SimulatedKill:
        storage.on_write = None
        clock.advance(minutes=settings.lock_timeout_minutes + 1)
        assert run_etf(storage, holed, new_york(D(2025, 7, 31)), clock) == 0
    storage.on_write = None
    storage.writes = writes["n"]  # type: ignore[attr-defined]
    return storage


def test_a_run_killed_while_computing_again_is_repaired_by_the_next(make_settings, clock, tmp_path):
    # A small plan keeps the write points few: SPY and two sector ETFs, their top two holdings, seven sessions.
    settings = make_settings(us_first_run_sessions=7, us_benchmark_etfs="SPY",
                             us_sector_etfs="XLU:Utilities,XLC:Communication", us_top_holdings=2)
    reference = _healing_run(tmp_path / "ref", settings, clock, crash_at=None)
    expected = _derived(reference)
    xlu = reference.etf_db["analytics_trending_etfs"].find_one({"_id": "2025-07-31:5:XLU"})
    assert xlu["is_trending"]  # once its 07-24 close is known
    assert reference.etf.portfolio(D(2025, 7, 31), 5)["positions"][0]["source_etfs"] == ["XLU"]
    total = reference.writes  # type: ignore[attr-defined]
    assert total > 10
    for crash_at in range(1, total + 1):
        crashed = _healing_run(tmp_path / "ref", settings, clock, crash_at=crash_at)
        assert _derived(crashed) == expected, f"differs after a kill at write {crash_at}"
        assert crashed.etf.recompute_pending() == []
        assert all(run["status"] != "running" for run in crashed.jobs.runs())


def _healing_run_cut(root, settings, clock, cut: Cut | None) -> tuple[Storage, BatchCut]:
    """Two of XLU's rows missing (two marks, so the marks and their clearing are multi-document writes), the
    rows restored, then the healing run with one multi-document write cut partway, and the run again."""
    storage = Storage(mongomock_ng.MongoClient(), prefix="b_")
    folder = _without_rows(root, {"XLU": ["2025-07-23", "2025-07-24"]})
    holed = settings.updated(us_replay_dir=folder)
    assert run_etf(storage, holed, new_york(D(2025, 7, 31)), clock) == 2
    _restore(folder, ["XLU"])
    with BatchCut(cut).installed() as cutter:
        try:
            assert run_etf(storage, holed, new_york(D(2025, 7, 31)), clock) == 0
        except SimulatedKill:
            clock.advance(minutes=settings.lock_timeout_minutes + 1)
            assert run_etf(storage, holed, new_york(D(2025, 7, 31)), clock) == 0
    return storage, cutter


def test_a_batch_cut_partway_while_computing_again_is_repaired_by_the_next_run(make_settings, clock, tmp_path):
    settings = make_settings(us_first_run_sessions=7, us_benchmark_etfs="SPY",
                             us_sector_etfs="XLU:Utilities,XLC:Communication", us_top_holdings=2)
    reference, counted = _healing_run_cut(tmp_path / "ref", settings, clock, None)
    expected = etf_snapshot(reference)
    assert {p.split(".", 1)[1] for p, _ in counted.calls} >= {"pipeline_recompute", "analytics_trending_etfs",
                                                             "analytics_portfolio_allocation"}
    for i, cut in enumerate(cut_points(counted.calls, both=False)):
        crashed, cutter = _healing_run_cut(tmp_path / f"c{i}", settings, clock, cut)
        assert cutter.fired, f"{cut} never happened"
        assert etf_snapshot(crashed) == expected, f"differs after {cut} ({counted.calls[cut.call - 1]})"
        assert crashed.etf.recompute_pending() == []
