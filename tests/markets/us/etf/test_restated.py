"""Which bar writes make rows already computed stale: a filled hole and a restated close are; a new session, an
open/high/low/volume correction and Yahoo's re-basing of adjusted closes after a dividend are not."""

from __future__ import annotations

import datetime as dt

from lib.markets.us.etf.restated import stale_marks
from lib.storage.dates import to_utc_midnight

D = dt.date


def bar(day: dt.date, close: float, ticker: str = "XLF", dividends: float = 0.0, volume: int = 100) -> dict:
    return {"ticker": ticker, "date": to_utc_midnight(day), "open": close, "high": close, "low": close,
            "close": close, "volume": volume, "dividends": dividends, "splits": 0.0}


DAYS = [D(2025, 9, 15), D(2025, 9, 16), D(2025, 9, 17), D(2025, 9, 18)]


def test_a_bar_written_between_stored_bars_of_a_computed_session_is_a_filled_hole():
    writes = [(bar(DAYS[1], 53.2), None), (bar(DAYS[2], 53.4), bar(DAYS[2], 53.4))]
    assert stale_marks(writes, {"XLF": DAYS[3]}, last_computed=DAYS[3]) == [("XLF", DAYS[1], "filled")]


def test_new_sessions_after_the_stored_ones_change_nothing_computed():
    writes = [(bar(DAYS[2], 53.4), None), (bar(DAYS[3], 53.6), None)]
    assert stale_marks(writes, {"XLF": DAYS[1]}, last_computed=DAYS[1]) == []
    assert stale_marks([(bar(DAYS[1], 53.2), None)], {"XLF": DAYS[3]}, last_computed=None) == []


def test_a_changed_close_is_a_restatement_from_its_session():
    writes = [(bar(DAYS[0], 53.3), bar(DAYS[0], 53.3)), (bar(DAYS[1], 54.0), bar(DAYS[1], 53.2)),
              (bar(DAYS[2], 53.5), bar(DAYS[2], 53.4))]
    assert stale_marks(writes, {"XLF": DAYS[3]}, last_computed=DAYS[3]) == [("XLF", DAYS[1], "restated")]


def test_a_restated_close_after_the_last_computed_session_is_not_marked():
    writes = [(bar(DAYS[3], 54.0), bar(DAYS[3], 53.6))]
    assert stale_marks(writes, {"XLF": DAYS[3]}, last_computed=DAYS[2]) == []


def test_a_volume_correction_alone_is_not_a_restatement():
    writes = [(bar(DAYS[1], 53.2, volume=999), bar(DAYS[1], 53.2))]
    assert stale_marks(writes, {"XLF": DAYS[3]}, last_computed=DAYS[3]) == []


def test_earlier_closes_rescaled_by_one_factor_before_a_dividend_are_not_a_restatement():
    factor = 0.99
    writes = [(bar(DAYS[0], 53.3 * factor), bar(DAYS[0], 53.3)), (bar(DAYS[1], 53.2 * factor), bar(DAYS[1], 53.2)),
              (bar(DAYS[2], 53.0, dividends=0.4), None)]
    assert stale_marks(writes, {"XLF": DAYS[1]}, last_computed=DAYS[1]) == []
    # the same rescaling without a dividend or split after it is a real change
    no_dividend = [*writes[:2], (bar(DAYS[2], 53.0), None)]
    assert stale_marks(no_dividend, {"XLF": DAYS[1]}, last_computed=DAYS[1]) == [("XLF", DAYS[0], "restated")]
