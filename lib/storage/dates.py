"""How a trading date is stored: a local exchange date as midnight UTC of that date (naive, as BSON returns it),
and back. The date is the exchange's own (a KRX session is a Korean date, an XNYS one a New York date)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def to_utc_midnight(day: dt.date) -> dt.datetime:
    """How a local trading date is stored: midnight UTC of that date (naive, as BSON returns it)."""
    return dt.datetime(day.year, day.month, day.day)


def from_stored(value: dt.datetime | pd.Timestamp) -> dt.date:
    """The local trading date of a stored day."""
    return dt.date(value.year, value.month, value.day)
