"""tools/measure_rebasing.py: what Yahoo's re-basing would rewrite in stored US closes, and what the re-basing
detector makes of it."""

from __future__ import annotations

import importlib.util

import pandas as pd

from lib.config import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "sample" / "us"


def load_tool():
    spec = importlib.util.spec_from_file_location("measure_rebasing", PROJECT_ROOT / "tools" / "measure_rebasing.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_fund(tmp_path, days: int, action: str, value: float):
    """The sample's XLF bars cut to `days` sessions, its only action on the last one."""
    frame = pd.read_csv(SAMPLE / "us_etf" / "XLF.csv").head(days)
    frame[["dividends", "splits"]] = 0.0
    frame.loc[frame.index[-1], action] = value
    (tmp_path / "us_etf").mkdir()
    frame.to_csv(tmp_path / "us_etf" / "XLF.csv", index=False)
    pd.read_csv(SAMPLE / "us_etf" / "SPY.csv").head(days).to_csv(tmp_path / "us_etf" / "SPY.csv", index=False)
    return tmp_path


def test_an_ex_dividend_date_rewrites_the_re_read_closes_only_when_adjusted_and_the_detector_keeps_it_quiet(
    tmp_path, capsys
):
    assert load_tool().main([str(one_fund(tmp_path, 40, "dividends", 0.2))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("2 ETF files, 1 with dividends/splits columns: 1 ex-dividend dates, 0 splits")
    assert out[1].endswith("auto_adjust=True 26, auto_adjust=False 0")  # the 26 sessions a run re-reads
    assert out[2].startswith("restatements marked (auto_adjust=True): with the detector 0, without it 1 ")


def test_a_split_rewrites_the_re_read_closes_in_both_models(tmp_path, capsys):
    assert load_tool().main([str(one_fund(tmp_path, 10, "splits", 2.0))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].endswith("auto_adjust=True 9, auto_adjust=False 9")  # fewer stored sessions than a window


def test_a_folder_without_us_etf_is_one_line_and_exit_2(tmp_path, capsys):
    assert load_tool().main([str(tmp_path)]) == 2
    assert "has no us_etf/ folder" in capsys.readouterr().err
