"""A stock's statements as known at a cutoff (the financials datasets: us.financials), point in time: a period is
seen only from its `known_at` (its end plus the lag setting, or its first read when later), and a figure revised
later is seen as it was then.

Derived: trailing twelve months (TTM) of the flows (revenue, operating and net income, diluted EPS, EBITDA,
operating and free cash flow, capital expenditure) as the sum of the four latest known quarters, only when those
four are consecutive (each period end 80 to 100 days after the one before) and the figure is present in all
four; else None. Nothing else is derived (no ratios: they need prices, and a price is another dataset's)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lib.spine.watermark import items_known_at

if TYPE_CHECKING:
    from lib.storage import Storage

DATASETS = ("us.financials",)
FLOWS = ("total_revenue", "operating_income", "net_income", "diluted_eps", "ebitda", "operating_cash_flow",
         "free_cash_flow", "capital_expenditure")
QUARTER_GAP = (80, 100)  # days between consecutive quarter ends (a 52/53-week year moves them a few days)
QUARTERS_KEPT = 5  # Yahoo's quarterly window


@dataclass(frozen=True)
class Financials:
    """A stock's periods known at a cutoff, newest first (`data`: items.FinancialsData), and its TTM flows."""

    ticker: str
    cutoff: dt.datetime
    quarterly: list[dict[str, Any]] = field(default_factory=list)
    annual: list[dict[str, Any]] = field(default_factory=list)
    ttm: dict[str, float | None] = field(default_factory=dict)  # FLOWS over the 4 latest quarters (see module)
    ttm_through: str | None = None  # the period end of the TTM's latest quarter
    # when each period's value shown became known (naive UTC), by (frequency, period end)
    known_at: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Nothing known about the stock at the cutoff."""
        return not self.quarterly and not self.annual


def trailing_twelve_months(quarters: list[dict[str, Any]]) -> dict[str, float | None]:
    """The FLOWS summed over the first four quarters (newest first), each None unless all four are consecutive
    and carry it; {} with fewer than four quarters."""
    if len(quarters) < 4:
        return {}
    four = quarters[:4]
    ends = [dt.date.fromisoformat(q["period_end"]) for q in four]
    consecutive = all(QUARTER_GAP[0] <= (a - b).days <= QUARTER_GAP[1] for a, b in zip(ends, ends[1:], strict=False))
    ttm: dict[str, float | None] = {}
    for name in FLOWS:
        values = [q.get(name) for q in four]
        ttm[name] = sum(values) if consecutive and all(v is not None for v in values) else None  # type: ignore[misc]
    return ttm


def financials(storage: Storage, ticker: str, cutoff: dt.datetime,
               datasets: tuple[str, ...] = DATASETS) -> Financials:
    """The stock's statements known at `cutoff` (aware, or naive UTC): the latest 5 quarters and every annual
    period known, newest first, and the TTM flows of the latest four quarters."""
    by_period: dict[tuple[str, str], dict[str, Any]] = {}
    known_at: dict[tuple[str, str], dt.datetime] = {}
    for dataset in datasets:
        for item in items_known_at(storage, dataset, cutoff, fields={"ticker": ticker}):
            data = dict(item.data)
            by_period[(data["frequency"], data["period_end"])] = data
            known_at[(data["frequency"], data["period_end"])] = item.known_at or item.at
    newest = sorted(by_period.values(), key=lambda d: d["period_end"], reverse=True)
    quarterly = [d for d in newest if d["frequency"] == "quarterly"][:QUARTERS_KEPT]
    annual = [d for d in newest if d["frequency"] == "annual"]
    ttm = trailing_twelve_months(quarterly)
    return Financials(ticker, cutoff, quarterly, annual, ttm, quarterly[0]["period_end"] if ttm else None, known_at)


__all__ = ["FLOWS", "Financials", "financials", "trailing_twelve_months"]
