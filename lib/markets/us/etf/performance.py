"""Realised performance of a portfolio against the benchmark, from stored closes.

A portfolio made from the close of session t is held, at its starting weights and without rebalancing, from
that close to the close of its last session (t + N sessions for a daily N-session portfolio, valid_until for
the monthly one). Its return is the weighted sum of the stocks' returns over that span, each in the stock's own
currency; the benchmark's is its close-to-close return over the same span."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field


@dataclass
class Performance:
    """How a portfolio did from its start close through `through` (final once through == end)."""

    status: str  # "final", "open" (the period is not over yet), "pending" (no session after the start yet),
    # "incomplete" (a close is missing)
    start: str
    end: str
    through: str | None = None
    sessions: int = 0
    portfolio_return: float | None = None
    spy_return: float | None = None
    excess_return: float | None = None
    missing: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Plain fields for storage."""
        return asdict(self)


def realised(
    weights: Mapping[str, float],
    closes: Mapping[str, Mapping[dt.date, float]],
    benchmark: str,
    span: Sequence[dt.date],
    last_stored: dt.date,
) -> Performance:
    """Performance over `span` (the start session then the holding sessions) with data through last_stored."""
    start, end = span[0], span[-1]
    held = [d for d in span[1:] if d <= last_stored]
    perf = Performance("pending", start.isoformat(), end.isoformat())
    if not held:
        return perf
    through = held[-1]
    missing = [
        t for t in sorted({*weights, benchmark})
        if closes.get(t, {}).get(start) is None or closes.get(t, {}).get(through) is None
    ]
    perf.through, perf.sessions = through.isoformat(), len(held)
    if missing:
        perf.status, perf.missing = "incomplete", missing
        return perf
    perf.portfolio_return = sum(
        w * (closes[t][through] / closes[t][start] - 1.0) for t, w in weights.items()
    ) if weights else 0.0
    perf.spy_return = closes[benchmark][through] / closes[benchmark][start] - 1.0
    perf.excess_return = perf.portfolio_return - perf.spy_return
    perf.status = "final" if through == end else "open"
    return perf
