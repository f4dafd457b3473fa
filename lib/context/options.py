"""Reading a stock's options summary point in time: the latest snapshot known at a cutoff, from every registered
watermark dataset of kind "options" (us.options)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from lib.context.read import of_kind
from lib.spine.watermark import Item, items_known_at

if TYPE_CHECKING:
    from lib.spine.datasets import Registry
    from lib.storage import Storage


def options_summary(storage: Storage, ticker: str, cutoff: dt.datetime, registry: Registry | None = None,
                    lookback: dt.timedelta = dt.timedelta(days=10)) -> Item | None:
    """The stock's latest options summary known at `cutoff` (`data`: items.OptionsData; the newest session, and
    of that session the value current at the cutoff), None when none of its sessions within `lookback` is known.
    `ticker` in Yahoo's form ("BRK-B")."""
    if registry is None:
        from lib.spine.registry import registry as registered

        registry = registered()
    found: list[Item] = []
    for dataset in of_kind(registry, "options"):
        found += items_known_at(storage, dataset.key, cutoff, cutoff - lookback, cutoff, {"ticker": ticker})
    return max(found, key=lambda item: (item.at, item.known_at or item.at), default=None)
