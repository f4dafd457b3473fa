"""A watermark dataset's page: the typed items a reader gives, the checks every item passes, and how a page is
stored: each item once on its natural key, a revised item's earlier value kept as a vintage, refused items
recorded with their reason and raw value. Everything is decided before the first write, and every `_id` comes
from the data, so storing a page again (a rerun after a kill) writes the same documents."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lib.log import get_logger
from lib.storage.watermarks import item_id, stored_time, vintage_id

if TYPE_CHECKING:
    from lib.storage import Storage

log = get_logger("watermark")


@dataclass(frozen=True)
class Mark:
    """Where a dataset's reading stands: everything known up to `read_through` is stored, and/or the source's
    own opaque `cursor` for the next page."""

    read_through: dt.datetime | None = None
    cursor: str | None = None


@dataclass(frozen=True)
class Item:
    """One normalised item: its natural key, its time, the kind's typed record as BSON-encodable fields."""

    key: str  # unique within the dataset: rcept_no, a story id, "CPIAUCSL:2024-11-01"
    at: dt.datetime  # when it happened, was published, or the date it observes (aware, or naive UTC)
    data: Mapping[str, Any]
    known_at: dt.datetime | None = None  # when this value became known (the source's vintage); None: the run's as-of


@dataclass(frozen=True)
class Rejected:
    """An item refused: why, and the raw value as the source gave it."""

    reason: str
    raw: Any
    key: str | None = None


@dataclass(frozen=True)
class Page:
    """One answer of the source, normalised."""

    items: tuple[Item, ...]
    mark: Mark  # where the watermark stands once these items are stored
    more: bool = False  # another page follows at once
    rejected: tuple[Rejected, ...] = ()


@dataclass
class PagePlan:
    """What storing a page writes, decided before any write (pure)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    vintages: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    new: int = 0
    revised: int = 0
    unchanged: int = 0


# --- checks -------------------------------------------------------------------------------------------


def _unstorable(value: Any, where: str) -> str | None:
    """Why a field cannot be stored as it is (BSON types only; NaN would make every re-read a revision)."""
    if value is None or isinstance(value, str | bool | dt.datetime):
        return None
    if isinstance(value, int):
        return None if -(2**63) <= value < 2**63 else f"{where}: {value} does not fit 64 bits"
    if isinstance(value, float):
        return f"{where}: NaN (give None for a missing value)" if math.isnan(value) else None
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if not isinstance(key, str) or key.startswith("$") or "." in key:
                return f"{where}: field name {key!r} (a string without '.' or a leading '$')"
            if reason := _unstorable(inner, f"{where}.{key}"):
                return reason
        return None
    if isinstance(value, list | tuple):
        return next((r for i, v in enumerate(value) if (r := _unstorable(v, f"{where}[{i}]"))), None)
    return f"{where}: {type(value).__module__}.{type(value).__name__} is not storable (a plain str/int/float/...)"


def check_item(item: Item, validate: Callable[[Item], str | None]) -> str | None:
    """Why an item cannot be stored (the spine's checks, then the reader's), or None."""
    if not isinstance(item.key, str) or not item.key:
        return f"natural key {item.key!r} is not a non-empty string"
    for name in ("at", "known_at"):
        moment = getattr(item, name)
        if not isinstance(moment, dt.datetime) and not (name == "known_at" and moment is None):
            return f"{name} {moment!r} is not a datetime"
    return _unstorable(item.data, "data") or validate(item)


def _plain(value: Any) -> Any:
    """Fields as BSON gives them back (lists, naive-UTC milliseconds), so equal values compare equal."""
    if isinstance(value, dt.datetime):
        return stored_time(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and type(value) is not float:  # numpy.float64 is a float: store the plain one
        return float(value)
    return value


# --- one page -----------------------------------------------------------------------------------------


def plan_page(
    dataset: str, items: Sequence[Item], stored: Mapping[str, dict], as_of: dt.datetime, vintages: bool = True
) -> PagePlan:
    """The documents a page writes: new items, revised ones (the value they replace becomes a vintage), nothing
    for unchanged ones. Values are applied in `known_at` order, so a page may revise an item more than once.

    `vintages`: the source dates each value (FRED's realtime_start), so `known_at` is the value's. Without
    (news, filings, a series without vintages), `known_at` is when the item was first published; a changed
    value read later became known when it was read (`as_of`), so an analysis dated before that never sees it."""
    plan = PagePlan()
    current = dict(stored)
    touched: dict[str, dict[str, Any]] = {}
    for item in sorted(items, key=lambda i: stored_time(i.known_at or as_of)):  # stable: page order within ties
        known = stored_time(item.known_at or as_of)
        before = current.get(item.key)
        if not vintages and before is not None and known <= before["known_at"]:
            # Read after its publication: known when read, and always after the value it replaces (a filing
            # corrected on its own day is known at that day's end, which is later than the run's as-of).
            known = max(stored_time(as_of), before["known_at"] + dt.timedelta(milliseconds=1))
        doc = {"_id": item_id(dataset, item.key), "dataset": dataset, "key": item.key, "at": stored_time(item.at),
               "known_at": known, "data": _plain(item.data)}
        if before is None:
            plan.new += 1
        elif (before["at"], before["data"]) == (doc["at"], doc["data"]) or known < before["known_at"]:
            # Unchanged, or a value older than the one stored (an overlapping re-read): history is not rewritten.
            plan.unchanged += 1
            continue
        elif known == before["known_at"]:
            plan.rejected.append(Rejected(f"a second value known at the same time {known.isoformat()}Z as the "
                                          "stored one", _raw_item(item), item.key))
            continue
        else:
            vintage = {k: v for k, v in before.items() if k != "revisions"}
            plan.vintages.append({**vintage, "_id": vintage_id(dataset, item.key, before["known_at"]),
                                  "superseded_at": known})
            plan.revised += 1
        doc["revisions"] = before.get("revisions", 0) + 1 if before else 0
        current[item.key] = touched[item.key] = doc
    plan.items = list(touched.values())
    return plan


def _raw_item(item: Item) -> dict[str, Any]:
    return {"key": item.key, "at": item.at, "data": dict(item.data), "known_at": item.known_at}


def _safe(value: Any) -> Any:
    """A raw value in a storable form: BSON types kept, anything else as its repr."""
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return repr(value)
    if value is None or isinstance(value, str | bool | int | float | dt.datetime):
        return stored_time(value) if isinstance(value, dt.datetime) else value
    if isinstance(value, Mapping):
        return {str(k).replace(".", "_").lstrip("$"): _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    return repr(value)


def reject(storage: Storage, dataset: str, rejected: Sequence[Rejected], seen_at: dt.datetime) -> None:
    """Record refused items with their reason and raw value in the one bad-data store (lib/storage/bad_data.py),
    under the dataset; an item refused again only moves its last-seen time, so a rerun records nothing twice."""
    if not rejected:
        return
    records = [{"dataset": dataset, "kind": dataset.partition(".")[2], "ticker": bad.key, "date": None,
                "raw": _safe(bad.raw), "reason": bad.reason} for bad in rejected]
    log.warning("%s: %d item(s) rejected, e.g. %s: %s", dataset, len(records), rejected[0].key or "?",
                rejected[0].reason)
    storage.bad_data.record_rejected(records, seen_at)


def store_page(
    storage: Storage, dataset: str, page: Page, validate: Callable[[Item], str | None], as_of: dt.datetime,
    vintages: bool = True,
) -> PagePlan:
    """Store a page's items (vintages first, then the items that supersede them), then its rejected items."""
    accepted, rejected = [], list(page.rejected)
    for item in page.items:
        reason = check_item(item, validate)
        if reason is None:
            accepted.append(item)
        else:
            rejected.append(Rejected(reason, _raw_item(item), item.key if isinstance(item.key, str) else None))
    plan = plan_page(dataset, accepted, storage.watermarks.stored_items(dataset, [i.key for i in accepted]), as_of,
                     vintages)
    plan.rejected = rejected + plan.rejected
    storage.watermarks.store_vintages(plan.vintages)
    storage.watermarks.store_items(plan.items)
    reject(storage, dataset, plan.rejected, as_of)
    return plan
