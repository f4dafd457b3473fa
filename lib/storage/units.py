"""Units written as several documents in one batch (an ETF's holdings snapshot): a batch the server stops
applying partway leaves some of them, so "some documents of the unit exist" never means "the unit is stored".
Every member carries the unit's size and a digest of the whole unit; a unit is complete when exactly that
many members are stored and all carry the same digest. A reader takes complete units only; the writer writes
an incomplete one again (and removes members a different answer left behind)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SIZE = "unit_size"
DIGEST = "unit_digest"


def with_unit(docs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The members of one unit, each stamped with the unit's size and digest (of every member's content)."""
    body = json.dumps([{k: v for k, v in d.items() if k not in (SIZE, DIGEST)} for d in docs], sort_keys=True,
                      default=str)
    digest = hashlib.sha1(body.encode()).hexdigest()[:16]
    return [{**d, SIZE: len(docs), DIGEST: digest} for d in docs]


def is_complete(members: Iterable[Mapping[str, Any]]) -> bool:
    """Whether these stored members are one whole unit. Members stored before units were stamped (no size)
    are taken as whole when none of them is stamped: nothing tells otherwise."""
    members = list(members)
    stamped = [m for m in members if SIZE in m]
    if not stamped:
        return bool(members)
    digests = {m.get(DIGEST) for m in members}
    return len(stamped) == len(members) == stamped[0][SIZE] and len(digests) == 1


def without_unit(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A member without its unit stamp (what readers hand on)."""
    return {k: v for k, v in doc.items() if k not in (SIZE, DIGEST)}
