"""Which active stocks get a profile read (sector, industry, shares outstanding) in a refresh, and how it is merged.

The screener gives every market cap in a few requests but no sector; `.info` costs a paced request per stock, so
a refresh reads at most US_PROFILES_PER_RUN: first this refresh's joiners, then the other active stocks with no
profile yet (the least recently tried first, so one Yahoo keeps failing for does not hold the queue), then the
profiles older than PROFILE_MAX_AGE_DAYS, oldest first. A profile read sets `profile_as_of`; every attempt sets
`profile_tried_on`. A sector Yahoo does not give stays absent (shown as unknown), never guessed; a field a later
profile lacks keeps its known value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Sector and industry seldom change and the screener refreshes shares weekly: a quarter-old profile is re-read.
PROFILE_MAX_AGE_DAYS = 91
PROFILE_KEYS = ("sector", "industry", "shares_outstanding")


def profile_queue(docs: Iterable[Mapping[str, Any]], joiners: Sequence[str], today: dt.date,
                  limit: int) -> list[str]:
    """The active tickers whose profile is read this refresh, at most `limit`, in the order above."""
    if limit <= 0:
        return []
    stale_before = (today - dt.timedelta(days=PROFILE_MAX_AGE_DAYS)).isoformat()
    first = {ticker: n for n, ticker in enumerate(joiners)}
    keyed = []
    for doc in docs:
        if not doc.get("is_active"):
            continue
        read_on = doc.get("profile_as_of")
        if read_on and read_on >= stale_before:
            continue
        ticker = doc["ticker"]
        if ticker in first:
            key: tuple[Any, ...] = (0, first[ticker])
        elif not read_on:
            key = (1, doc.get("profile_tried_on") or "", -(doc.get("market_cap") or 0.0))
        else:
            key = (2, read_on, -(doc.get("market_cap") or 0.0))
        keyed.append((key, ticker))
    return [ticker for _, ticker in sorted(keyed)[:limit]]


def profile_fields(profile: Mapping[str, Any] | None, before: Mapping[str, Any], today: dt.date) -> dict[str, Any]:
    """The fields a profile attempt sets on a document: the profile's values where it has them, else the known
    ones (the screener's shares of this refresh among them)."""
    text = today.isoformat()
    fields: dict[str, Any] = {"profile_tried_on": text}
    if profile is None:
        return fields
    fields["profile_as_of"] = text
    for key in PROFILE_KEYS:
        value = profile.get(key) or before.get(key)
        if value:
            fields[key] = value
    return fields
