"""The registry of datasets: discovered from the market packages, light to import, a broken market reported and
skipped (never a crash of check_db), the crontab's documentation matching it, and the operations code naming no
market."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lib.markets
from lib.ops.status import gather
from lib.ops.status_view import render_text
from lib.spine.registry import registry, reset_registry
from lib.storage import Storage, get_client

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def markets_path(tmp_path, monkeypatch):
    """A folder on the markets' path for test packages; the registry and the modules are forgotten afterwards."""
    monkeypatch.setattr(lib.markets, "__path__", [*lib.markets.__path__, str(tmp_path)])
    reset_registry()
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("lib.markets.") and m.split(".")[2] in ("broken", "wrong")]:
        sys.modules.pop(name)
    reset_registry()


def test_the_two_markets_register_their_datasets_with_the_names_stored_today():
    krx, us = registry().get("krx.bars"), registry().get("us.etf_bars")
    assert (krx.job, krx.lock, krx.collectors, str(krx.tz)) == (
        "daily_update", "stock_data_collection", ("daily_update", "manual_setup"), "Asia/Seoul")
    assert (us.job, us.lock, us.collectors, str(us.tz)) == ("etf_pipeline", "us_etf", ("etf_pipeline",),
                                                            "America/New_York")
    assert [s.job for s in krx.subscribers] == ["hourly_analysis", "ai_predict", "ai_evaluate"]
    assert registry().screened() is krx
    assert registry().of_collector("manual_setup") is krx and registry().errors == ()


def test_each_dataset_builds_the_market_its_scripts_run(make_settings):
    settings = make_settings()
    for dataset in registry().with_cadence("session"):
        market = dataset.build(settings)
        assert (market.job, market.lock) == (dataset.job, dataset.lock)
        assert market.calendar.tz == dataset.calendar(settings).tz == dataset.tz


def test_reading_the_registry_imports_no_market_code_nor_pandas():
    probe = ("import sys; from lib.spine.registry import registry; r = registry(); "
             "print(len(r), sorted(n for n in sys.modules if n == 'pandas' or n.endswith('.market')))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"{len(registry())} []"


def test_a_broken_market_module_is_reported_and_skipped_and_check_db_still_answers(markets_path, make_settings):
    (markets_path / "broken").mkdir()
    (markets_path / "broken" / "__init__.py").write_text("import no_such_library\n")
    (markets_path / "wrong.py").write_text(textwrap.dedent("""
        from zoneinfo import ZoneInfo
        from lib.spine.datasets import Dataset
        DATASETS = (Dataset(market="wrong", kind="bars", label="x", cadence="session", job="x", lock="x",
                            tz=ZoneInfo("UTC"), setup="x"),)
    """))
    found = registry()
    assert [d.key for d in found.with_cadence("session")] == ["krx.bars", "us.etf_bars", "us.stocks"]
    assert {d.market for d in found} == {"krx", "us"}
    errors = dict(found.errors)
    assert errors["lib.markets.broken"] == "ModuleNotFoundError: No module named 'no_such_library'"
    assert errors["lib.markets.wrong"] == "ValueError: dataset wrong.bars has the session cadence but no calendar " \
                                          "or build"
    import datetime as dt

    status = gather(Storage(get_client("mongomock://")), make_settings(), dt.datetime(2025, 6, 16, 12, tzinfo=dt.UTC),
                    sizes=False)
    assert "market module skipped: lib.markets.broken: ModuleNotFoundError" in render_text(status)
    assert any(line.startswith("market module skipped: lib.markets.wrong") for line in status.attention)


def _cron_scripts() -> set[str]:
    """The jobs crontab.txt runs: each script's name, and for `collect.py KEY...` the jobs of those datasets."""
    lines = [line for line in (ROOT / "crontab.txt").read_text().splitlines() if line and not line.startswith("#")]
    jobs = set()
    for line in lines:
        if m := re.search(r"python collect\.py ([\w. ]+?)(?: >>|$)", line):
            jobs |= {registry().get(key).job for key in m.group(1).split()}
        elif m := re.search(r"python hourly_analysis\.py --market (\w+)", line):  # a market's screening
            jobs |= {s.job for d in registry() if d.market == m.group(1) for s in d.subscribers if s.screens}
        elif m := re.search(r"python (\w+)\.py", line):
            jobs.add(m.group(1))
    return jobs


def test_every_registered_job_has_a_crontab_line_and_every_collection_line_is_registered():
    scheduled = _cron_scripts()
    for dataset in registry():
        assert dataset.schedule, f"{dataset.key} says when cron runs it"
        assert dataset.job in scheduled, f"{dataset.key}: {dataset.job}.py has no line in crontab.txt"
        for subscriber in dataset.subscribers:
            assert subscriber.job in scheduled, f"{dataset.key}: its subscriber {subscriber.job} is not scheduled"
    registered = {d.job for d in registry()} | {s.job for d in registry() for s in d.subscribers}
    operations = {"cleanup", "check_db"}  # read or prune every dataset: no dataset of their own
    assert scheduled - operations == registered


OPERATIONS = [*sorted((ROOT / "lib" / "ops").glob("status*.py")), ROOT / "lib" / "ops" / "alerts.py",
              *sorted((ROOT / "lib" / "spine").glob("*.py")), ROOT / "lib" / "cli.py",
              ROOT / "api" / "health.py", ROOT / "api" / "status.py"]


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_operations_code_names_no_market(path):
    """No import of a market's package, and no market's job, lock or name in code (docs and descriptions aside)."""
    tree = ast.parse(path.read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [m for m in imported if m.startswith("lib.markets.")], path
    docs = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)
            and n.body and isinstance(n.body[0], ast.Expr)}
    described = {id(k.value) for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords
                 if k.arg in ("description", "summary")}
    # (KST stays: it is the display zone of every time shown to people, lib/display.py, not a market's.)
    names = {w for d in registry() for w in (d.job, d.lock, d.market, d.key, *d.collectors)} | {"KRX", "XNYS"}
    words = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names))) + r")\b")
    found = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
             and id(n) not in docs and id(n) not in described and words.search(n.value)]
    found += [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and re.search(r"KRX|XNYS|DAY_JOB|ETF_JOB", n.id)]
    assert found == [], f"{path.name} names a market: {found}"
