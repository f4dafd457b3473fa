"""The embedded server (mongomock://, mongomock-ng) finds a document by its string `_id` through its key, as a
real server does through its `_id` index, instead of testing every document of the collection.

mongomock-ng answers every query, update and delete by testing the filter against each stored document, so a
batch of n updates by `_id` (the evaluation's outcomes, a prediction batch's saves) costs n x the collection's
size: 5,400 outcome updates over 2,500 predictions took about 250 s. With this lookup each costs one dict access.
The answer is the same: the filter (with every other condition) is still tested against the one candidate. A
`{"_id": {"$in": [strings]}}` query is answered in one pass with a set (the library searches the list for each
document: a watermark page's lookup of its stored items was most of a first macro run's time)."""

from __future__ import annotations

import functools
import threading
from typing import Any

_installed = False
# One writer at a time in the embedded server (re-entrant: a find-and-modify updates through `_update`, which
# inserts an upsert through `_insert`). Reads are not held: a write replaces values in place.
write_lock = threading.RLock()
# mongomock-ng's write steps: each runs whole under `write_lock`
ATOMIC_WRITES = ("_insert", "_update", "_find_and_modify", "_delete")
library_scan: Any = None  # mongomock-ng's own _iter_documents, kept so a test can compare the two answers


def _strings_in(wanted: Any) -> bool:
    """Whether `wanted` is `{"$in": [str, ...]}` and nothing else."""
    return (isinstance(wanted, dict) and list(wanted) == ["$in"] and isinstance(wanted["$in"], list)
            and all(type(value) is str for value in wanted["$in"]))


def install() -> None:
    """Give mongomock-ng's collections the `_id` lookup and atomic writes (once per process; a no-op without
    mongomock-ng)."""
    global _installed, library_scan
    if _installed:
        return
    try:
        from mongomock_ng.collection import Collection
        from mongomock_ng.filtering import filter_applies
    except ImportError:  # a real-server install without the embedded one
        return
    scan = library_scan = Collection._iter_documents

    def _iter_documents(self: Any, filter: Any) -> Any:
        wanted = filter.get("_id") if isinstance(filter, dict) else None
        if _strings_in(wanted):
            # `{"_id": {"$in": [...]}}` (a page's stored items): one pass with a set, in the store's order,
            # instead of the library's list search for every document
            keys = set(wanted["$in"])
            return (document for document in list(self._store.documents)
                    if document.get("_id") in keys and filter_applies(filter, document))
        # only a plain string: other _id types (datetimes, numbers, documents) keep the library's own matching
        if type(wanted) is not str:
            return scan(self, filter)
        try:
            document = self._store[wanted]
        except KeyError:
            return iter(())
        return iter([document] if filter_applies(filter, document) else [])

    Collection._iter_documents = _iter_documents
    for name in ATOMIC_WRITES:
        setattr(Collection, name, _atomic(getattr(Collection, name)))
    _installed = True


def _atomic(step: Any) -> Any:
    """`step` (a write of mongomock-ng's Collection) run whole while holding `write_lock`."""

    @functools.wraps(step)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with write_lock:
            return step(*args, **kwargs)

    return locked
