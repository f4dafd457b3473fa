"""The one bad-data store (lib/storage/bad_data.py): held bars and rejected records side by side, each with its
reason and raw value, and an older install's two collections moved into it once."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import mongomock_ng
import pytest

from lib.storage import Storage
from lib.storage.dates import to_utc_midnight
from tests.helpers import SimulatedKill

NOW = dt.datetime(2025, 8, 1, 10, 0, tzinfo=dt.UTC)
DAY = dt.date(2024, 9, 2)


def bar(close: int) -> dict:
    return {"date": to_utc_midnight(DAY), "open": close, "high": close, "low": close, "close": close,
            "volume": 10, "halted": False, "source": "replay"}


def old_quarantine_doc(ticker: str, close: int) -> dict:
    """A document as system_info.quarantine held it before the bad-data store."""
    return {"_id": f"{ticker}:{DAY}", "ticker": ticker, "date": to_utc_midnight(DAY), "date_kst": DAY.isoformat(),
            "market": "KOSPI", "reason": f"close {close} is beyond the limit", "bar": bar(close)}


def rejected(ticker: str, reason: str = "close is not positive: -1.0") -> dict:
    """A refused record as the US pipeline hands it to storage."""
    return {"kind": "bars", "source": "replay", "ticker": ticker, "date": "2025-07-29", "raw": {"close": "-1.0"},
            "reason": reason, "job": "etf_pipeline", "where": "us_etf/XLF.csv line 207"}


def old_rejected_doc(record: dict, first: dt.datetime, last: dt.datetime) -> dict:
    """A document as us_etf.logs_rejected_records held it (its `_id` the digest of the record)."""
    body = json.dumps({k: record.get(k) for k in ("kind", "source", "ticker", "date", "raw", "reason")},
                      sort_keys=True, default=str)
    return {"_id": hashlib.sha1(body.encode()).hexdigest(), **record, "first_seen_utc": first, "last_seen_utc": last}


def old_install(client) -> None:
    system, etf = client["t_system_info"], client["t_us_etf"]
    system["quarantine"].insert_many([old_quarantine_doc("005930", 148_800), old_quarantine_doc("000660", 99)])
    first, last = dt.datetime(2025, 7, 1), dt.datetime(2025, 7, 30)
    etf["logs_rejected_records"].insert_many([old_rejected_doc(rejected("XLF"), first, last),
                                              old_rejected_doc(rejected("SPY", "high 1.0 below low 2.0"), first, last)])


def stores(client) -> tuple[list[dict], list[dict], int]:
    storage = Storage(client, prefix="t_")
    bad = storage.bad_data
    return bad.quarantined(), bad.rejected_records(), storage.system["bad_data"].count_documents({})


def test_an_older_installs_quarantine_and_rejected_records_are_moved_once_and_nothing_is_lost():
    client = mongomock_ng.MongoClient()
    old_install(client)
    Storage(client, prefix="t_").ensure_indexes()
    held, refused, total = stores(client)
    assert total == 4
    assert [h["ticker"] for h in held] == ["000660", "005930"]
    assert held[1] == {"ticker": "005930", "date": to_utc_midnight(DAY), "date_kst": "2024-09-02", "market": "KOSPI",
                       "reason": "close 148800 is beyond the limit", "bar": bar(148_800)}
    assert {r["ticker"] for r in refused} == {"XLF", "SPY"}
    xlf = next(r for r in refused if r["ticker"] == "XLF")
    assert (xlf["kind"], xlf["dataset"], xlf["raw"], xlf["where"]) == ("bars", "us.bars", {"close": "-1.0"},
                                                                         "us_etf/XLF.csv line 207")
    assert xlf["first_seen_utc"] == dt.datetime(2025, 7, 1) and xlf["last_seen_utc"] == dt.datetime(2025, 7, 30)
    assert "quarantine" not in client["t_system_info"].list_collection_names()
    assert "logs_rejected_records" not in client["t_us_etf"].list_collection_names()
    # Run again (and on first use by another Storage object): the same documents, no duplicate.
    Storage(client, prefix="t_").ensure_indexes()
    assert stores(client) == (held, refused, 4)
    # A record moved is the same record when it is sent again: seen again, not new.
    storage = Storage(client, prefix="t_")
    assert storage.bad_data.record_rejected([rejected("XLF")], NOW) == 0
    assert storage.bad_data.rejected_records(dataset="us.bars")[0]["last_seen_utc"] == NOW.replace(tzinfo=None)


def test_a_move_cut_after_the_copy_is_finished_by_the_next_use_and_overwrites_no_newer_verdict():
    client = mongomock_ng.MongoClient()
    running = Storage(client, prefix="t_")
    # a process whose first use came before the old documents were moved
    assert running.bad_data.quarantine_count() == 0
    old_install(client)

    def kill(what: str) -> None:
        if what == "quarantine.moved":
            raise SimulatedKill(what)

    with pytest.raises(SimulatedKill):
        # first use: copied, old not yet deleted
        Storage(client, prefix="t_", on_write=kill).bad_data.quarantine_count()
    assert client["t_system_info"]["quarantine"].count_documents({}) == 2
    # Meanwhile that process holds 005930's bar again with a newer reason: finishing the move must not undo it.
    running.bad_data.quarantine_bars([{"ticker": "005930", "day": DAY, "market": "KOSPI", "bar": bar(150_000),
                              "reason": "newer verdict"}], NOW)
    held, refused, total = stores(client)
    assert total == 4 and len(refused) == 2
    assert {h["ticker"]: h["reason"] for h in held} == {"005930": "newer verdict",
                                                        "000660": "close 99 is beyond the limit"}
    assert "quarantine" not in client["t_system_info"].list_collection_names()


def test_held_bars_and_rejected_records_share_one_store_and_each_retention_takes_only_its_own():
    storage = Storage(mongomock_ng.MongoClient(), prefix="t_")
    storage.ensure_indexes()
    storage.bad_data.quarantine_bars([{"ticker": "005930", "day": DAY, "market": "KOSPI", "bar": bar(148_800),
                              "reason": "close doubled"}], NOW - dt.timedelta(days=400))
    storage.bad_data.record_rejected([rejected("XLF")], NOW - dt.timedelta(days=400))
    [held] = list(storage.system["bad_data"].find({"held": True}))
    assert held["_id"] == "krx.bars:005930:2024-09-02" and held["dataset"] == "krx.bars"
    assert (held["key"], held["day"], held["reason"], held["raw"]["close"]) == ("005930", "2024-09-02",
                                                                                 "close doubled", 148_800)
    assert held["first_seen_utc"] == held["last_seen_utc"] == (NOW - dt.timedelta(days=400)).replace(tzinfo=None)
    # The rejected records' retention (last seen a year ago) leaves the held bar, which follows the prices'.
    assert storage.bad_data.delete_rejected_before(NOW.replace(tzinfo=None)) == 1
    assert storage.bad_data.quarantine_count() == 1 and storage.bad_data.rejected_records() == []
    bad = storage.bad_data
    assert bad.delete_quarantine_before(DAY) == 0 and bad.delete_quarantine_before(DAY + dt.timedelta(1)) == 1
    assert storage.system["bad_data"].count_documents({}) == 0
