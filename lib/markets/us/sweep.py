"""The per-ticker sweep that us.news and us.options read on the watermark cadence: one page per ticker, the
cursor naming the sweep's start and the last ticker stored, so a run stopped mid-sweep resumes after it and the
watermark moves to the sweep's start only when its last ticker is read."""

from __future__ import annotations

import datetime as dt

from lib.spine.watermark import Mark


def sweep_cursor(sweep: dt.datetime, ticker: str) -> str:
    """The stored cursor of a sweep started at `sweep` whose last stored ticker is `ticker`."""
    return f"{sweep.isoformat()}|{ticker}"


def parse_sweep_cursor(cursor: str | None) -> tuple[dt.datetime, str] | None:
    """(sweep start, last ticker stored) of a stored cursor; None for none or one this reader cannot read."""
    if not cursor or "|" not in cursor:
        return None
    start, _, ticker = cursor.partition("|")
    try:
        moment = dt.datetime.fromisoformat(start)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)), ticker


def sweep_mark(ticker: str, sweep: dt.datetime, last: bool) -> Mark:
    """Where a page of the sweep leaves the watermark: unmoved when no ticker was read (nothing followed), the
    sweep's start after its last ticker, else the cursor after `ticker`."""
    if not ticker:
        return Mark()  # no sweep happened: the watermark keeps its time (and its staleness)
    if last:
        return Mark(sweep, None)
    return Mark(None, sweep_cursor(sweep, ticker))
