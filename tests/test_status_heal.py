"""check_db forgets a failed run whose consequences a later run repaired: the exact scenario of a setup file
missing a session, then a catch-up from a good file (the real scripts); and what does not count as repaired."""

from __future__ import annotations

import datetime as dt

import pandas as pd

import check_db
import daily_update
import hourly_analysis
import manual_setup
from lib.ops.status import JobRun, MarketStatus
from lib.ops.status_heal import mark_healed
from lib.spine.registry import registry
from tests.conftest import PANEL

D = dt.date
HOLE = "2025-05-07"


def test_a_setup_that_missed_a_session_is_healed_once_daily_update_collected_it(make_settings, tmp_path, capsys):
    panel = pd.read_parquet(PANEL)
    holed = tmp_path / "holed.parquet"
    panel[panel["date"].astype(str) != HOLE].to_parquet(holed, index=False)
    good = make_settings(analysis_quota_per_run=5000)

    assert manual_setup.main(["--today", "2025-05-09", "--sessions", "5"], settings=make_settings(
        krx_replay_path=holed)) == 2
    assert check_db.main(["--today", "2025-05-09", "--no-sizes"], settings=good) == 1
    before = capsys.readouterr().out
    assert f"manual_setup: the last run failed: 1 session(s) not collected, the others were: {HOLE}" in before

    assert daily_update.main(["--today", "2025-05-12"], settings=good) == 0
    assert hourly_analysis.main(["--today", "2025-05-12"], settings=good) == 0
    capsys.readouterr()
    assert check_db.main(["--today", "2025-05-12", "--no-sizes"], settings=good) == 0
    out = capsys.readouterr().out
    assert "not done      none" in out and "missing       none" in out
    [row] = [line for line in out.splitlines() if line.lstrip().startswith("manual_setup ")]
    assert "failed (healed)" in row and "repaired by daily_update since: 1 session(s) not collected" in row
    assert out.rstrip().endswith("Nothing needs attention.")

    # a later failure of the setup itself is not healed by the catch-up that came before it
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"not parquet")
    assert manual_setup.main(["--today", "2025-05-12", "--sessions", "5"], settings=make_settings(
        krx_replay_path=corrupt)) == 2
    capsys.readouterr()
    assert check_db.main(["--today", "2025-05-12", "--no-sizes", "--quiet"], settings=good) == 1
    assert "manual_setup: the last run failed since " in capsys.readouterr().out


def _run(job: str, status: str, minute: int, completed_minute: int | None = None, **counters) -> JobRun:
    at = dt.datetime(2025, 5, 12, 10, minute)
    done = dt.datetime(2025, 5, 12, 10, completed_minute) if completed_minute is not None else None
    return JobRun(job, status, at, 1.0, "boom" if status == "failed" else None, counters, done)


def _krx(first: dt.date, last: dt.date, holes: list[dt.date]) -> MarketStatus:
    return MarketStatus("daily_update", "KRX", first, last, 5, [], [], holes, 0, last, False)


def test_a_failure_is_healed_only_by_another_collector_of_its_market_with_its_day_collected():
    markets = registry()  # krx.bars' collectors: daily_update and manual_setup
    state = _krx(D(2025, 5, 2), D(2025, 5, 12), holes=[D(2025, 5, 8)])

    def healed(*jobs: JobRun) -> dict[str, str | None]:
        return {j.job_name: j.healed_by for j in mark_healed(list(jobs), [state], markets)}

    update = _run("daily_update", "completed", 30, 30)
    assert healed(_run("manual_setup", "failed", 10, failed_day="2025-05-07"), update)["manual_setup"] == (
        "daily_update")
    # the session it named is still a hole, or before the collected range: not repaired
    assert healed(_run("manual_setup", "failed", 10, failed_day="2025-05-08"), update)["manual_setup"] is None
    assert healed(_run("manual_setup", "failed", 10, failed_day="2025-04-01"), update)["manual_setup"] is None
    # the catch-up completed before the failure: nothing after it repaired anything
    assert healed(_run("manual_setup", "failed", 40), update)["manual_setup"] is None
    # the analysis or the rebalance is not collection: only its own completed run ends its failure
    assert healed(_run("hourly_analysis", "failed", 10), update)["hourly_analysis"] is None
    assert healed(_run("monthly_rebalance", "failed", 10), _run("etf_pipeline", "completed", 30, 30))[
        "monthly_rebalance"] is None
    # the catch-up failing too: still attention
    assert healed(_run("manual_setup", "failed", 10), _run("daily_update", "failed", 30, 5))["manual_setup"] is None
