"""The US stock universe (system_info.target_tickers in the "us_" scope): the listed common stocks of NASDAQ
Trader's symbol files whose market cap, from Yahoo's screener, is at least US_MIN_MARKET_CAP, refreshed every
US_UNIVERSE_REFRESH_DAYS.

One document per ticker: {ticker (Yahoo form), name, exchange, market_cap (USD), currency "USD", sector, industry,
shares_outstanding, is_active, as_of_date, first_seen, left_on (absent while active), profile_as_of,
profile_tried_on}. Leavers (listed no more, or under the floor) are kept inactive with left_on and left_reason;
their bars stay. A listed stock absent from the screener's answer is under the floor only when that answer is
complete; otherwise, or when its quote was unusable, it keeps its previous state, so a short answer never makes
stocks flap. Sector and industry come from a few profiles a refresh (universe_profiles.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.errors import ConfigError, SourceBlockedError
from lib.log import get_logger
from lib.markets.us.stocks.market_caps import MarketCaps
from lib.markets.us.stocks.symbols import Listing, parse_symbol_files
from lib.markets.us.stocks.universe_profiles import profile_fields, profile_queue
from lib.markets.us.stocks.universe_sources import (
    LiveUniverseSource,
    Profiles,
    ReplayUniverseSource,
    UniverseSource,
)

log = get_logger("us_universe")
LISTED_NO_MORE = "no longer in NASDAQ Trader's symbol files"
UNDER_FLOOR = "market cap under US_MIN_MARKET_CAP"


@dataclass
class UniversePlan:
    """The documents to write and who joined, left, rejoined or stayed."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    joiners: list[str] = field(default_factory=list)
    leavers: list[str] = field(default_factory=list)
    rejoiners: list[str] = field(default_factory=list)
    kept: int = 0
    unchanged: list[str] = field(default_factory=list)  # listed, not known this time: previous state kept


@dataclass(frozen=True)
class UniverseChange:
    """What a refresh did: joiners' tickers (the bars collector loads their history), leavers, rejoiners, and
    how many stayed active, were listed, were left as they were (not in an incomplete screener answer, or an
    unusable quote), are active now; whether the screener's answer was complete, its pages, profiles read."""

    as_of: dt.date
    joiners: tuple[str, ...]
    leavers: tuple[str, ...]
    rejoiners: tuple[str, ...]
    kept: int
    listed: int
    unchanged: int
    active: int
    complete: bool = True
    screener_pages: int = 0
    profiled: int = 0


def plan_universe(current_docs: Iterable[Mapping[str, Any]], listings: Iterable[Listing], caps: MarketCaps,
                  day: dt.date, floor: float) -> UniversePlan:
    """The universe documents after one refresh (pure). A listed ticker in the screener's answer at or above
    `floor` (USD) is active (a joiner if new, a rejoiner if inactive); under it, or absent from a complete answer,
    an active one leaves. An active ticker no longer listed leaves. A listed ticker absent from an incomplete
    answer, or whose quote was unusable, keeps its document untouched. Sector and industry are left to the
    profiles; name and shares come from the quote, else stay as known."""
    text = day.isoformat()
    current = {doc["ticker"]: dict(doc) for doc in current_docs}
    plan = UniversePlan()
    listed: set[str] = set()
    for listing in listings:
        listed.add(listing.ticker)
        doc = current.get(listing.ticker)
        quote = caps.found.get(listing.ticker)
        if quote is None:
            if doc is None or not doc.get("is_active"):
                continue  # out, and still not in the answer
            if listing.ticker in caps.left_out or not caps.complete:
                plan.unchanged.append(listing.ticker)
                continue
            plan.docs.append({**doc, "exchange": listing.exchange, "financial_status": listing.financial_status,
                              "is_active": False, "left_on": text, "left_reason": UNDER_FLOOR, "as_of_date": text})
            plan.leavers.append(listing.ticker)
            continue
        qualifies = quote["market_cap"] >= floor
        if doc is None and not qualifies:
            continue
        before = doc or {}
        # A field this answer lacks keeps its known value: Yahoo's quotes omit fields now and then.
        new = {
            "ticker": listing.ticker, "exchange": listing.exchange, "market_cap": float(quote["market_cap"]),
            "currency": "USD", "as_of_date": text, "first_seen": before.get("first_seen") or text,
            "financial_status": listing.financial_status,
            "name": quote.get("name") or before.get("name") or listing.name,
            "shares_outstanding": quote.get("shares_outstanding") or before.get("shares_outstanding"),
        }
        was_active = bool(doc and doc.get("is_active"))
        if qualifies:
            new["is_active"] = True
            if doc is None:
                plan.joiners.append(listing.ticker)
            elif not was_active:
                plan.rejoiners.append(listing.ticker)
            else:
                plan.kept += 1
        else:
            new["is_active"] = False
            if was_active:
                new.update(left_on=text, left_reason=UNDER_FLOOR)
                plan.leavers.append(listing.ticker)
            else:  # already out: its figures refreshed, its leaving day kept
                new.update({k: doc[k] for k in ("left_on", "left_reason") if doc and doc.get(k)})
        plan.docs.append(new)
    for ticker, doc in current.items():
        if ticker not in listed and doc.get("is_active"):
            plan.docs.append({**doc, "is_active": False, "left_on": text, "left_reason": LISTED_NO_MORE,
                              "as_of_date": text})
            plan.leavers.append(ticker)
    return plan


def _updates(plan: UniversePlan) -> list[tuple[str, dict[str, Any]]]:
    """MongoDB updates: $set the document's fields, $unset an active one's leaving fields and empty optional
    ones (a None sector is absent, not null)."""
    updates = []
    for doc in plan.docs:
        fields = {k: v for k, v in doc.items() if v is not None}
        unset = {k: "" for k, v in doc.items() if v is None}
        if doc["is_active"]:
            unset.update(left_on="", left_reason="")
        update: dict[str, Any] = {"$set": fields}
        if unset:
            update["$unset"] = unset
        updates.append((doc["ticker"], update))
    return updates


def _us(settings: Any) -> Any:
    return settings.market("us") if hasattr(settings, "market") else settings


def _read_profiles(source: UniverseSource, queue: list[str]) -> Profiles | None:
    """The queued profiles; None when Yahoo refuses us (the membership is still written, no attempt recorded)."""
    if not queue:
        return Profiles()
    try:
        return source.profiles(queue)
    except SourceBlockedError as exc:
        log.warning("US profiles not read this refresh: %s", exc)
        return None


def refresh_universe(storage: Any, settings: Any, today: dt.date, source: UniverseSource,
                     force: bool = False) -> UniverseChange | None:
    """Re-read the symbol files, the screener's market caps and a few profiles, and rewrite the universe of
    `storage` (scoped "us_") in one write, unless the stored universe is younger than US_UNIVERSE_REFRESH_DAYS
    (None then; `force` refreshes anyway). A truncated symbol file or a failed screener page raises before
    anything is written."""
    us = _us(settings)
    as_of = storage.universe.universe_as_of()
    if not force and as_of is not None and (today - as_of).days < us.universe_refresh_days:
        log.info("US universe as of %s is younger than %d days: not refreshed", as_of, us.universe_refresh_days)
        return None
    directory = parse_symbol_files(*source.symbol_files())
    log.info("US symbol files (%s): %s", source.name, directory.summary())
    if directory.created.date() > today + dt.timedelta(days=1):
        log.warning("US symbol files created %s, after %s: the universe of a later day (a replay of newer files)",
                    directory.created.date(), today)
    caps = source.market_caps(us.min_market_cap)
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(caps.reasons().items())) or "none"
    log.info("US screener (%s): %d market caps at or above %.0f USD in %d request(s), total %s, %s; left out: %s",
             source.name, len(caps.found), us.min_market_cap, caps.pages, caps.total,
             "complete" if caps.complete else "INCOMPLETE", reasons)
    current = storage.universe.universe()
    plan = plan_universe(current, directory.listings, caps, today, us.min_market_cap)
    after = {doc["ticker"]: dict(doc) for doc in current}
    for doc in plan.docs:
        after[doc["ticker"]] = {**after.get(doc["ticker"], {}), **doc}
    queue = profile_queue(after.values(), plan.joiners, today, us.profiles_per_run)
    profiles = _read_profiles(source, queue)
    extra: list[tuple[str, dict[str, Any]]] = []
    if profiles is not None:
        planned = {doc["ticker"]: doc for doc in plan.docs}
        for ticker in queue:
            fields = profile_fields(profiles.found.get(ticker), after[ticker], today)
            if ticker in planned:
                planned[ticker].update(fields)
            else:
                extra.append((ticker, {"$set": fields}))
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(profiles.reasons().items())) or "none"
        log.info("US profiles: %d asked, %d read; not read: %s", len(queue), len(profiles.found), reasons)
    storage.universe.apply_universe(_updates(plan) + extra)
    change = UniverseChange(today, tuple(plan.joiners), tuple(plan.leavers), tuple(plan.rejoiners), plan.kept,
                            len(directory.listings), len(plan.unchanged),
                            len(storage.universe.universe(active_only=True)), caps.complete, caps.pages,
                            len(profiles.found) if profiles is not None else 0)
    log.info("US universe %s: %d active (%d joined, %d rejoined, %d left, %d kept; %d unchanged, not known this "
             "time; floor %.0f USD)", today, change.active, len(change.joiners), len(change.rejoiners),
             len(change.leavers), change.kept, change.unchanged, us.min_market_cap)
    return change


def build_universe_source(settings: Any) -> UniverseSource:
    """The replay folder when US_STOCKS_SOURCES starts with replay (US_STOCKS_REPLAY_DIR), else the live
    sources (nasdaqtrader.com and Yahoo through yfinance)."""
    us = _us(settings)
    first = us.stocks_sources[0] if us.stocks_sources else "yfinance"
    if first == "replay":
        if us.stocks_replay_dir is None:
            raise ConfigError("US_STOCKS_SOURCES=replay needs US_STOCKS_REPLAY_DIR (a folder like "
                              "data/sample/us_stocks)")
        return ReplayUniverseSource(us.stocks_replay_dir)
    from lib.markets.us.yfinance_source import YFinanceSource

    timeout = us.request_timeout_seconds
    yahoo = YFinanceSource.plumbing(timeout, us.rate_limit_backoff_seconds, us.yfinance_http, us.yfinance_cache_dir)
    return LiveUniverseSource(timeout, us.min_request_gap_seconds, yahoo)
