"""tools/check_prices.py: what the impossible-price rules would do to a file, before it is imported."""

from __future__ import annotations

import importlib.util

from lib.config import PROJECT_ROOT
from tests.conftest import FIXTURES


def load_tool():
    spec = importlib.util.spec_from_file_location("check_prices", PROJECT_ROOT / "tools" / "check_prices.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_one_market_file_is_checked_and_its_consolidation_reported(capsys):
    code = load_tool().main([str(FIXTURES / "krx_079970_2023-12_2024-09.csv")])  # KOSDAQ rows only
    out = capsys.readouterr().out
    assert code == 0
    assert "quarantined 079970 2024-08-21: high 2,150 is +1043.6% from the previous close 188" in out
    assert "stored after a quarantined day: 079970 2024-08-22" in out
    summary = "200 sessions, 200 rows: 1 bar(s) of 1 stock(s) quarantined, 0 market answer(s) refused"
    assert out.rstrip().endswith(summary)


def test_a_missing_file_is_one_line_and_exit_2(tmp_path, capsys):
    assert load_tool().main([str(tmp_path / "nope.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no file at" in err[0]
