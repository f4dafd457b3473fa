"""The US sectors over HTTP: each sector ETF of US_SECTOR_ETFS against the benchmark (5/10/20 sessions and the
rebalance month), and one sector's trend, months, the stocks the daily portfolios hold from it and its ETF's
top-holdings figures. The routes read what etf_pipeline.py and monthly_rebalance.py stored."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from api.deps import SettingsDep, StorageDep, read_access
from api.errors import not_found
from api.etf import BAD_DATE, NO_DB, NOT_FOUND, DateQuery, _session
from api.sectors_models import SectorDetail, SectorsResponse
from lib.config import Settings
from lib.markets.us.etf.universe import PERIODS
from lib.markets.us.settings import us_settings

router = APIRouter(tags=["etf"], dependencies=[Depends(read_access)])
PERIOD_FIELDS = ("return_nd", "spy_return_nd", "outperformance", "rank_by_outperformance", "is_trending")


def slug(name: str) -> str:
    """A sector name as a path word: 'Consumer Cyclical' -> 'consumer-cyclical'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _sectors(settings: Settings) -> dict[str, str]:
    return us_settings(settings).sector_etfs  # {ETF ticker: sector name}


def _periods(rows: list[dict]) -> list[dict]:
    return [{"period_days": r["period_days"], **{k: r.get(k) for k in PERIOD_FIELDS}}
            for r in sorted(rows, key=lambda r: r["period_days"])]


def _month(doc: dict | None, etf: str) -> dict | None:
    row = next((r for r in (doc or {}).get("sectors", []) if r["etf_ticker"] == etf), None)
    if row is None:
        return None
    return {**row, "month": doc["month"], "start_session": doc["start_session"],  # type: ignore[index]
            "end_session": doc["end_session"]}  # type: ignore[index]


def _day(storage: Any, settings: Settings, date: dt.date | None) -> dt.date:
    _session(settings, date)
    day = storage.etf.latest_trending_day(date)
    if day is None or (date is not None and day != date):
        raise HTTPException(status_code=404, detail=f"no trending table for {date or 'any day'}: etf_pipeline has "
                            "not processed it")
    return day


@router.get("/sectors", response_model=SectorsResponse, responses={**NOT_FOUND, **BAD_DATE, **NO_DB})
def sectors(storage: StorageDep, settings: SettingsDep, date: DateQuery = None) -> dict:
    """Every sector ETF's 5/10/20-session return against the benchmark on a session (ranks among every followed
    ETF, trending flags) and its latest month's standing, in the order of US_SECTOR_ETFS."""
    day = _day(storage, settings, date)
    rows: dict[str, list[dict]] = {}
    for r in storage.etf.trending_rows(day):
        rows.setdefault(r["etf_ticker"], []).append(r)
    months = storage.etf.sector_months(day, limit=1)
    out = [{"sector": name, "slug": slug(name), "etf_ticker": etf, "periods": _periods(rows.get(etf, [])),
            "month": _month(months[0] if months else None, etf)} for etf, name in _sectors(settings).items()]
    return {"as_of_date": day.isoformat(), "benchmark": us_settings(settings).benchmark, "sectors": out}


@router.get("/sectors/{sector}", response_model=SectorDetail, responses={**NOT_FOUND, **BAD_DATE, **NO_DB})
def sector(
    storage: StorageDep,
    settings: SettingsDep,
    sector: Annotated[str, Path(max_length=60, description="a sector name or slug (financial, consumer-cyclical) "
                                                           "or its ETF's ticker (XLF)")],
    date: DateQuery = None,
    sessions: Annotated[int, Query(ge=1, le=250, description="sessions of trend, newest first")] = 20,
) -> dict:
    """One sector on a session: its ETF's standing over the last sessions and months, the stocks the session's
    5/10/20-session portfolios hold from it with their sector average and rank, and its ETF's top holdings'
    figures (from the snapshot known on the session)."""
    known = _sectors(settings)
    wanted = slug(sector)
    etf = next((t for t, name in known.items() if wanted in (slug(name), t.lower())), None)
    if etf is None:
        raise not_found("sector", sector, [slug(n) for n in known.values()],
                        "a sector name, its slug or its ETF ticker")
    day = _day(storage, settings, date)
    by_day: dict[str, list[dict]] = {}
    for r in storage.etf.etf_trend(etf, day, sessions):
        by_day.setdefault(r["as_of_date"], []).append(r)
    trend = [{"as_of_date": d, "periods": _periods(rows)} for d, rows in sorted(by_day.items(), reverse=True)]
    months = [m for m in (_month(doc, etf) for doc in storage.etf.sector_months(day)) if m is not None]
    members = []
    for period in PERIODS:
        doc = storage.etf.portfolio(day, period) or {}
        members += [{**p, "period_days": period} for p in doc.get("positions", []) if etf in p.get("source_etfs", [])]
    top_day = storage.etf.top_holdings_day(etf, day)
    return {
        "sector": known[etf], "slug": slug(known[etf]), "etf_ticker": etf, "as_of_date": day.isoformat(),
        "benchmark": us_settings(settings).benchmark, "trend": trend[:sessions], "months": months,
        "members_held": members, "top_holdings_date": top_day.isoformat() if top_day else None,
        "top_holdings": storage.etf.top_holdings(etf, top_day) if top_day else [],
    }
