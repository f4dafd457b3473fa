"""The optional blocks of GET /stocks/{ticker}: a stock's fundamentals (its profile from the universe document, its
latest known quarter and TTM) and its latest options summary, each as known at the request's cutoff (point in
time, lib/context). Found through the registry by kind ("financials", "options") for the stock's market: a market
with no such dataset (KRX) answers null, and so does a stock with nothing known by the cutoff."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from lib.context.financials import FLOWS, financials
from lib.context.items import FINANCIAL_FIELDS
from lib.context.options import options_summary
from lib.context.read import of_kind
from lib.spine.datasets import Dataset, Registry, registry_of
from lib.storage import Storage

_AMOUNT = "in `currency`; null where the source has none"
_FLOW = f"over the period, {_AMOUNT}"


class QuarterFigures(BaseModel):
    """One quarter's statement figures, as known at the cutoff."""

    period_end: dt.date = Field(description="the quarter's last day")
    known_at_utc: dt.datetime = Field(description="when these figures became known here (the period end plus the "
                                                  "publication lag setting, or the first read when later), UTC")
    total_revenue: float | None = Field(None, description=_FLOW)
    operating_income: float | None = Field(None, description=_FLOW)
    net_income: float | None = Field(None, description=_FLOW)
    diluted_eps: float | None = Field(None, description="diluted earnings per share over the period, in `currency`")
    ebitda: float | None = Field(None, description=_FLOW)
    total_assets: float | None = Field(None, description=f"at the period end, {_AMOUNT}")
    total_debt: float | None = Field(None, description=f"at the period end, {_AMOUNT}")
    stockholders_equity: float | None = Field(None, description=f"at the period end, {_AMOUNT}")
    free_cash_flow: float | None = Field(None, description=_FLOW)
    operating_cash_flow: float | None = Field(None, description=_FLOW)
    capital_expenditure: float | None = Field(None, description=f"{_FLOW}; negative: cash paid out")


class TrailingYear(BaseModel):
    """The trailing twelve months: each flow summed over the four latest known quarters (only when they are
    consecutive and all four carry it, else null)."""

    through: dt.date = Field(description="the period end of its latest quarter")
    known_at_utc: dt.datetime = Field(description="when the last of its four quarters became known here, UTC")
    total_revenue: float | None = Field(None, description=_AMOUNT)
    operating_income: float | None = Field(None, description=_AMOUNT)
    net_income: float | None = Field(None, description=_AMOUNT)
    diluted_eps: float | None = Field(None, description="per share, in `currency`")
    ebitda: float | None = Field(None, description=_AMOUNT)
    operating_cash_flow: float | None = Field(None, description=_AMOUNT)
    free_cash_flow: float | None = Field(None, description=_AMOUNT)
    capital_expenditure: float | None = Field(None, description=f"{_AMOUNT}; negative: cash paid out")


class Fundamentals(BaseModel):
    """A stock's profile and its latest statements known at the cutoff."""

    currency: str = Field(description="the currency of the amounts: USD")
    sector: str | None = Field(None, description="from the universe document (GICS sector)")
    industry: str | None = None
    shares_outstanding: float | None = Field(None, description="shares, as of `profile_as_of`")
    profile_as_of: str | None = Field(None, description="the day the universe document (sector, industry, shares) "
                                                        "was last refreshed, YYYY-MM-DD: the current profile, not "
                                                        "the cutoff's")
    latest_quarter: QuarterFigures | None = Field(None, description="null when no quarter is known by the cutoff")
    ttm: TrailingYear | None = Field(None, description="null with fewer than four known quarters")


class OptionsDrops(BaseModel):
    """What the summary left out of the chains it read (counts of contract rows, or of expirations)."""

    zero_bid_ask: int = Field(description="rows with a zero bid and a zero ask (no live market)")
    no_strike: int = Field(description="rows without a usable strike")
    unreadable: int = Field(description="rows that were not a record")
    iv_implausible: int = Field(description="rows kept for volume and open interest whose implied volatility "
                                            "(missing, <= 0.01 or > 5) is not used")
    expiries_outside: int = Field(description="expirations outside 0..`max_days` days (not summed)")


class OptionsSnapshot(BaseModel):
    """A stock's latest daily options summary known at the cutoff (expirations within `max_days` summed)."""

    session: dt.date = Field(description="the exchange session the snapshot belongs to")
    known_at_utc: dt.datetime = Field(description="when the chains were read, UTC")
    currency: str = Field(description="the currency of prices and strikes: USD")
    underlying_price: float | None = Field(None, description="the stock's price at the read, in `currency`")
    max_days: int = Field(description="expirations within this many calendar days are summed")
    expiries: int = Field(description="expirations summed")
    call_volume: int = Field(description="contracts traded in the session, summed expirations")
    put_volume: int
    call_open_interest: int = Field(description="contracts open, summed expirations")
    put_open_interest: int
    put_call_volume: float | None = Field(None, description="put volume / call volume (a ratio, 1.0 = as many puts "
                                                            "as calls); null when no call traded")
    put_call_open_interest: float | None = Field(None, description="put / call open interest; null when no call is "
                                                                   "open")
    atm_iv: float | None = Field(None, description="at-the-money implied volatility, a fraction a year (0.25 = 25 %):"
                                                   " the mean of the call's and the put's at `atm_strike`")
    atm_call_iv: float | None = Field(None, description="a fraction a year")
    atm_put_iv: float | None = Field(None, description="a fraction a year")
    atm_expiry: dt.date | None = Field(None, description="the nearest expiration at least 7 days out, where the ATM "
                                                         "IV is read")
    atm_days: int | None = Field(None, description="calendar days from the read to `atm_expiry`")
    atm_strike: float | None = Field(None, description="the usable strike nearest the price, in `currency`")
    rows: int = Field(description="contract rows used")
    dropped: OptionsDrops


def _of_market(registry: Registry, kind: str, market: str) -> tuple[Dataset, ...]:
    return tuple(d for d in of_kind(registry, kind) if d.market == market)


def fundamentals(storage: Storage, registry: Registry, market: str, doc: dict[str, Any],
                 cutoff: dt.datetime) -> Fundamentals | None:
    """The stock's profile and latest statements known at `cutoff`; None when its market has no financials dataset,
    or when neither a profile nor a statement is known. `storage`: the unscoped store (watermark items are
    shared)."""
    datasets = tuple(d.key for d in _of_market(registry, "financials", market))
    if not datasets:
        return None
    known = financials(storage, doc["ticker"], cutoff, datasets)
    profile = {k: doc.get(k) for k in ("sector", "industry", "shares_outstanding")}
    if known.empty and all(v is None for v in profile.values()):
        return None
    quarter = None
    if known.quarterly:
        latest = known.quarterly[0]
        quarter = QuarterFigures(period_end=latest["period_end"],
                                 known_at_utc=known.known_at[("quarterly", latest["period_end"])],
                                 **{k: latest.get(k) for k in FINANCIAL_FIELDS})
    ttm = None
    if known.ttm and known.ttm_through:
        last = max(known.known_at[("quarterly", q["period_end"])] for q in known.quarterly[:4])
        ttm = TrailingYear(through=known.ttm_through, known_at_utc=last, **{k: known.ttm.get(k) for k in FLOWS})
    dated = known.quarterly or known.annual
    currency = dated[0].get("currency") if dated else doc.get("currency")
    return Fundamentals(currency=currency or "", **profile, profile_as_of=doc.get("as_of_date"),
                        latest_quarter=quarter, ttm=ttm)


def options(storage: Storage, registry: Registry, market: str, ticker: str,
            cutoff: dt.datetime) -> OptionsSnapshot | None:
    """The stock's latest options summary known at `cutoff`; None when its market has no options dataset or none
    of its recent sessions is known."""
    datasets = _of_market(registry, "options", market)
    if not datasets:
        return None
    item = options_summary(storage, ticker, cutoff, registry_of(datasets))
    if item is None:
        return None
    data = item.data
    return OptionsSnapshot(
        session=data["session"], known_at_utc=item.known_at or item.at, currency=data.get("currency", ""),
        **{k: data.get(k) for k in ("underlying_price", "max_days", "expiries", "call_volume", "put_volume",
                                    "call_open_interest", "put_open_interest", "put_call_volume",
                                    "put_call_open_interest", "atm_iv", "atm_call_iv", "atm_put_iv", "atm_expiry",
                                    "atm_days", "atm_strike", "rows")},
        dropped=OptionsDrops(zero_bid_ask=data.get("dropped_zero_bid_ask", 0),
                             no_strike=data.get("dropped_no_strike", 0),
                             unreadable=data.get("dropped_unreadable", 0),
                             iv_implausible=data.get("iv_implausible", 0),
                             expiries_outside=data.get("expiries_outside", 0)),
    )
