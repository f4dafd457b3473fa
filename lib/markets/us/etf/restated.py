"""Which bar writes change rows already derived from the stored bars (pure).

A bar written for a session on or before the latest computed one matters when
- it fills a hole: the ticker had no bar that day but has later ones (a session completed late, a --redo, a
  fund's missing day served again), or
- it restates a close: the stored close differs, and not as Yahoo's re-basing does it. With adjusted closes,
  a new ex-dividend date (or split) rescales every earlier close of the ticker by one factor; an answer that
  re-reads the sessions before it rewrites them all by that factor. That leaves every return computed between
  two of them unchanged, so it is not a restatement: the rewritten closes are a prefix of the ticker's stored
  bars in the answer, all moved by the same ratio, and the first bar after them carries the dividend or split.

Open, high, low and volume changes alone change no derived row (returns, trending, weights and performance use
closes only)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from lib.storage.dates import from_stored

CHANGED = 1e-9  # relative change of a close that counts as a change
SAME_FACTOR = 1e-6  # relative spread of the ratios a re-basing may show (Yahoo's rounding of adjusted prices)


def _ratio(doc: Mapping[str, Any], old: Mapping[str, Any]) -> float | None:
    new_close, old_close = doc.get("close"), old.get("close")
    if not new_close or not old_close:
        return None
    return float(new_close) / float(old_close)


def _moved(doc: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    if doc.get("close") == old.get("close"):
        return False
    ratio = _ratio(doc, old)
    return ratio is None or abs(ratio - 1.0) > CHANGED


def _rebased(items: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | None]]) -> bool:
    """The ticker's changed closes are one factor applied to its stored bars before an ex-date in the answer."""
    stored = [(i, doc, old) for i, (doc, old) in enumerate(items) if old is not None]
    ratios = [_ratio(doc, old) for _, doc, old in stored]
    if any(r is None for r in ratios):
        return False
    moved = [k for k, (_, doc, old) in enumerate(stored) if _moved(doc, old)]
    if not moved:
        return True
    last = moved[-1]
    prefix = ratios[: last + 1]
    if any(abs(r / prefix[0] - 1.0) > SAME_FACTOR for r in prefix):  # type: ignore[operator]
        return False
    after = stored[last][0] + 1
    if after >= len(items):
        return False
    boundary = items[after][0]
    return bool((boundary.get("dividends") or 0) > 0 or (boundary.get("splits") or 0) > 0)


def stale_marks(
    writes: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | None]],
    latest_stored: Mapping[str, dt.date],
    last_computed: dt.date | None,
) -> list[tuple[str, dt.date, str]]:
    """(ticker, date, why) of the bars among `writes` (each new document next to the stored one, None when new)
    whose writing changes rows derived from sessions on or before `last_computed`: the filled holes, and the
    earliest restated close of each ticker."""
    if last_computed is None:
        return []
    by_ticker: dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any] | None]]] = {}
    for doc, old in writes:
        by_ticker.setdefault(doc["ticker"], []).append((doc, old))
    marks: list[tuple[str, dt.date, str]] = []
    for ticker, items in sorted(by_ticker.items()):
        items.sort(key=lambda item: item[0]["date"])
        latest = latest_stored.get(ticker)
        for doc, old in items:
            day = from_stored(doc["date"])
            if old is None and latest is not None and day < latest and day <= last_computed:
                marks.append((ticker, day, "filled"))
        if _rebased(items):
            continue
        restated = [from_stored(doc["date"]) for doc, old in items if old is not None and _moved(doc, old)]
        if restated and restated[0] <= last_computed:
            marks.append((ticker, restated[0], "restated"))
    return marks
