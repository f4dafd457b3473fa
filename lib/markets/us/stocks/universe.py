"""The US stock universe (system_info.target_tickers in the "us_" scope): the listed common stocks of NASDAQ
Trader's symbol files whose market cap is at least US_MIN_MARKET_CAP, refreshed every US_UNIVERSE_REFRESH_DAYS.

One document per ticker: {ticker (Yahoo form), name, exchange, market_cap (USD), currency "USD", sector, industry,
shares_outstanding, is_active, as_of_date, first_seen, left_on (absent while active)}. Leavers (listed no more,
or under the floor) are kept inactive with left_on and left_reason; their bars stay. A listed ticker whose
profile could not be read this time keeps its previous state, so a failed request never makes it flap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.errors import ConfigError
from lib.log import get_logger
from lib.markets.us.stocks.symbols import Listing, parse_symbol_files
from lib.markets.us.stocks.universe_sources import (
    LiveUniverseSource,
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
    unchanged: list[str] = field(default_factory=list)  # listed, no profile this time: previous state kept


@dataclass(frozen=True)
class UniverseChange:
    """What a refresh did: joiners' tickers (the bars collector loads their history), leavers, rejoiners, and
    how many stayed active, were listed, were left as they were for want of a profile, and are active now."""

    as_of: dt.date
    joiners: tuple[str, ...]
    leavers: tuple[str, ...]
    rejoiners: tuple[str, ...]
    kept: int
    listed: int
    unchanged: int
    active: int


def plan_universe(current_docs: Iterable[Mapping[str, Any]], listings: Iterable[Listing],
                  profiles: Mapping[str, Mapping[str, Any]], day: dt.date, floor: float) -> UniversePlan:
    """The universe documents after one refresh (pure). A listed ticker with a profile at or above `floor` (USD)
    is active (a joiner if new, a rejoiner if inactive); under it, an active one leaves. An active ticker no
    longer listed leaves. A listed ticker without a profile keeps its document untouched."""
    text = day.isoformat()
    current = {doc["ticker"]: dict(doc) for doc in current_docs}
    plan = UniversePlan()
    listed: set[str] = set()
    for listing in listings:
        listed.add(listing.ticker)
        doc = current.get(listing.ticker)
        profile = profiles.get(listing.ticker)
        if profile is None or profile.get("market_cap") is None:
            if doc is not None:
                plan.unchanged.append(listing.ticker)
            continue
        qualifies = profile["market_cap"] >= floor
        if doc is None and not qualifies:
            continue
        before = doc or {}
        # A field this answer lacks keeps its known value: Yahoo's profile omits fields now and then.
        new = {
            "ticker": listing.ticker, "exchange": listing.exchange, "market_cap": float(profile["market_cap"]),
            "currency": "USD", "as_of_date": text, "first_seen": before.get("first_seen") or text,
            "financial_status": listing.financial_status,
            **{name: profile.get(name) or before.get(name) for name in ("name", "sector", "industry",
                                                                         "shares_outstanding")},
        }
        new["name"] = new["name"] or listing.name
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


def refresh_universe(storage: Any, settings: Any, today: dt.date, source: UniverseSource,
                     force: bool = False) -> UniverseChange | None:
    """Re-read the symbol files and profiles and rewrite the universe of `storage` (scoped "us_"), unless the
    stored universe is younger than US_UNIVERSE_REFRESH_DAYS (None then; `force` refreshes anyway). A truncated
    symbol file raises BadDataError before anything is written."""
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
    profiles = source.profiles([listing.ticker for listing in directory.listings])
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(profiles.reasons().items())) or "none"
    log.info("US profiles: %d read, left out of this refresh: %s", len(profiles.found), reasons)
    current = storage.universe.universe()
    plan = plan_universe(current, directory.listings, profiles.found, today, us.min_market_cap)
    storage.universe.apply_universe(_updates(plan))
    change = UniverseChange(today, tuple(plan.joiners), tuple(plan.leavers), tuple(plan.rejoiners), plan.kept,
                            len(directory.listings), len(plan.unchanged),
                            len(storage.universe.universe(active_only=True)))
    log.info("US universe %s: %d active (%d joined, %d rejoined, %d left, %d kept; %d unchanged for want of a "
             "profile; floor %.0f USD)", today, change.active, len(change.joiners), len(change.rejoiners),
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
    yahoo = YFinanceSource(timeout, dt.timedelta(0), _no_close, us.rate_limit_backoff_seconds, us.yfinance_http,
                           us.yfinance_cache_dir)
    return LiveUniverseSource(timeout, us.min_request_gap_seconds, yahoo)


def _no_close(day: dt.date) -> dt.datetime:
    raise NotImplementedError("profiles have no session close")
