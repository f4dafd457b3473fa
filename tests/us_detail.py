"""A store for the US stock detail (GET /stocks/{ticker}'s fundamentals and options, the dashboard's panel): what
`collect.py us.financials` and `collect.py us.options` store from the recorded data/sample/us_financials and
data/sample/us_options, for a US universe of AAPL (both recorded) and JPM (neither), and one KRX stock."""

from __future__ import annotations

import csv

import collect
from lib.config import PROJECT_ROOT
from lib.storage import Storage, get_client
from tests.conftest import US_SAMPLE, replay_settings

FINANCIALS = PROJECT_ROOT / "data" / "sample" / "us_financials"
OPTIONS = PROJECT_ROOT / "data" / "sample" / "us_options"


def _universe(storage: Storage) -> None:
    """AAPL and JPM as the US universe contract stores them (sample meta.csv), and one KRX stock."""
    with (US_SAMPLE / "us_stocks" / "meta.csv").open() as handle:
        meta = {r["ticker"]: r for r in csv.DictReader(handle)}
    storage.scoped("us_").universe.apply_universe(
        (t, {"$set": {"ticker": t, "name": meta[t]["name"], "exchange": x, "market_cap": float(meta[t]["market_cap"]),
                      "currency": "USD", "sector": meta[t]["sector"], "industry": industry,
                      "shares_outstanding": int(meta[t]["shares_outstanding"]), "is_active": True,
                      "as_of_date": "2025-09-30"}})
        for t, x, industry in (("AAPL", "Q", "Consumer Electronics"), ("JPM", "N", "Banks - Diversified")))
    storage.universe.apply_universe([("005930", {"$set": {"ticker": "005930", "name": "삼성전자", "market": "KOSPI",
                                                          "market_cap": 4.0e14, "is_active": True,
                                                          "as_of_date": "2025-09-30"}})])


def collected_store() -> Storage:
    """AAPL, JPM and a KRX stock in their universes; statements read on 2025-08-12 (the 2025-06-30 quarter
    published, its 45-day lag not yet over) and on 2026-06-01; AAPL's options chains read on 2025-09-30."""
    settings = replay_settings(us_stocks=True, us_financials_replay_dir=FINANCIALS, us_options_replay_dir=OPTIONS)
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    _universe(storage)
    for day in ("2025-08-12", "2026-06-01"):
        assert collect.main(["us.financials", "--today", day], settings=settings) == 0
    assert collect.main(["us.options", "--today", "2025-09-30"], settings=settings) == 0
    return storage
