"""cleanup.py on every market with screened stocks: another market's own collections get the same retention."""

from __future__ import annotations

import datetime as dt

import cleanup as cleanup_script
import lib.spine.registry
from lib.storage import Storage, get_client
from tests.test_bad_data import rejected
from tests.us_scope import seed_us, two_markets


def test_cleanup_applies_retention_to_the_us_markets_own_collections(make_settings, monkeypatch, capsys):
    monkeypatch.setattr(lib.spine.registry, "_registry", two_markets())
    settings = make_settings(retention_rejected_days=30)
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    us = seed_us(storage, ("AAPL",))
    us.bad_data.record_rejected([rejected("AAPL")], dt.datetime(2024, 1, 2, tzinfo=dt.UTC))  # long unseen
    us.bad_data.record_rejected([rejected("MSFT")], dt.datetime.now(dt.UTC))  # the source still sends it
    storage.bad_data.record_rejected([rejected("XLF")], dt.datetime(2024, 1, 2, tzinfo=dt.UTC))  # the shared one
    assert cleanup_script.main(["--dry-run"], settings=settings) == 0
    plan = capsys.readouterr().out
    assert "us_prices" in plan and "us_screening" in plan and "us_picks" in plan
    assert cleanup_script.main([], settings=settings) == 0
    run = storage.jobs.runs("cleanup")[0]
    assert run["deleted_us_rejected"] == 1 and run["deleted_rejected"] == 1
    assert [r["ticker"] for r in us.bad_data.rejected_records()] == ["MSFT"]
    assert us.bars.read_bars("AAPL")  # bars are kept forever by default, in every market
