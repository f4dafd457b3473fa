"""Field types shared by the routes' response models."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator


def _as_utc(moment: dt.datetime) -> dt.datetime:
    # MongoDB hands back naive UTC; an aware value serialises with its offset, as RFC 3339 date-time wants.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


UtcDateTime = Annotated[dt.datetime, AfterValidator(_as_utc)]
"""A moment in UTC, always serialised with its offset (stored values are naive UTC)."""
