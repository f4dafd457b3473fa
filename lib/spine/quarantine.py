"""What every market's check of impossible bars shares: a bar held out of its market's bars (`Held`, stored by
`storage.bad_data.quarantine_bars`) and each ticker's last close before a batch (`PriorClose`, `prior_closes`).
The rules themselves are each market's (lib/markets/krx/quarantine.py, lib/markets/us/stocks/quarantine.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Held:
    """A bar kept out of the market's bars: the document it would have been, and why."""

    ticker: str
    day: dt.date
    market: str
    bar: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class PriorClose:
    """A ticker's last close before the batch: the last stored one and, when a later bar was quarantined,
    that bar's close (the last one delivered)."""

    stored: float | None
    delivered: float | None = None


def prior_closes(
    stored: Mapping[str, tuple[dt.date, float]], quarantined: Mapping[str, tuple[dt.date, float]]
) -> dict[str, PriorClose]:
    """Each ticker's PriorClose from its last stored bar and its last quarantined one (date, close) before a
    batch; a quarantined bar counts as the last delivered only when it is newer than the last stored one."""
    out: dict[str, PriorClose] = {}
    for ticker in set(stored) | set(quarantined):
        kept, held = stored.get(ticker), quarantined.get(ticker)
        delivered = held[1] if held and (kept is None or held[0] > kept[0]) else (kept[1] if kept else None)
        out[ticker] = PriorClose(kept[1] if kept else None, delivered)
    return out
