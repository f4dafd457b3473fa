"""Field types shared by the routes' response models."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def _as_utc(moment: dt.datetime) -> dt.datetime:
    # MongoDB hands back naive UTC; an aware value serialises with its offset, as RFC 3339 date-time wants.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


UtcDateTime = Annotated[dt.datetime, AfterValidator(_as_utc)]
"""A moment in UTC, always serialised with its offset (stored values are naive UTC)."""


def _calendar_date(value: object) -> dt.date:
    # Pydantic's own date parsing also takes Unix seconds, "2024-01-02T00:00" and more; a day is YYYY-MM-DD only.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and re.fullmatch(DATE_PATTERN, value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("date_format", "not a calendar date in the form YYYY-MM-DD, e.g. 2025-09-03")


IsoDate = Annotated[
    dt.date,
    PlainValidator(_calendar_date),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
]
"""A calendar day written YYYY-MM-DD and nothing else (no Unix seconds, no time of day): every date parameter."""
