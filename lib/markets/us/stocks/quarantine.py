"""Impossible US bars: kept out of us_stock_data (held in us_system_info.bad_data with their reason, dataset
"us.stocks"), and the bar documents of the rest. Pure: the collector (lib/markets/us/stocks/market.py) calls
`screen_bars` once per stored batch with what storage knows of each ticker's last close.

US exchanges have no daily price limit, so "impossible" is what no trade can print, or a move no real session
makes without a split:
- a date that is not an XNYS session;
- a price (open, high, low, close) zero or negative, a negative volume;
- a high below the low, an open or close outside low..high by more than RANGE_TOLERANCE (rounding);
- a close more than JUMP times, or less than 1/JUMP of, the previous close divided by the day's split ratio.
  The largest one-day moves of the sample's 58 large caps since 2015 stay within 0.6x-1.6x; penny-stock squeezes
  beyond 10x happen below the universe's 2 billion USD floor. A move the next day confirms (its close within the
  band of the held one) is stored as a level shift, as KRX's check does (lib/markets/krx/quarantine.py).

Each stored bar keeps the split ratio and dividend Yahoo sent, and on a split day `base_price` = the previous
close / the ratio: the analysis derives the adjustment from it as from KRX's base prices
(lib/analysis/corporate_actions.py). Dividends do not move the base price (KRX's base price ignores them too)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lib.spine.quarantine import Held, PriorClose
from lib.storage.dates import to_utc_midnight

DATASET = "us.stocks"
RANGE_TOLERANCE = 0.005  # Yahoo's prices are cents; half a percent is rounding, more is a broken bar
JUMP = 10.0


@dataclass
class Screened:
    """The bar documents to store by ticker (date order), the bars held, the level shifts stored because the
    next session confirmed them."""

    kept: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    held: list[Held] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)


def _num(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def bar_document(row: Mapping[str, Any], source: str, base_price: float | None) -> dict[str, Any]:
    """One row as the us_stock_data document (BSON types only)."""
    volume = _num(row.get("volume"))
    return {
        "date": to_utc_midnight(row["date"]),
        # Yahoo's adjusted close is left out: it is adjusted as of each download, so a series of them would mix
        # adjustments; the analysis adjusts from the stored splits (base_price) itself.
        **{name: _num(row.get(name)) for name in ("open", "high", "low", "close")},
        "volume": None if volume is None else int(round(volume)),
        "dividends": _num(row.get("dividends")) or 0.0,
        "splits": _num(row.get("splits")) or 0.0,
        "base_price": base_price,
        "source": source,
    }


def _shape_problem(bar: Mapping[str, Any], sessions: Container[dt.date], day: dt.date) -> str | None:
    """Why a bar cannot have been traded, whatever came before it; None when it can."""
    if day not in sessions:
        return f"{day} is not a New York Stock Exchange (XNYS) trading day"
    for name in ("open", "high", "low", "close"):
        if bar[name] is not None and bar[name] <= 0:
            return f"{name} {bar[name]} is not positive"
    if bar["volume"] is not None and bar["volume"] < 0:
        return f"negative volume {bar['volume']}"
    high, low = bar["high"], bar["low"]
    if high is not None and low is not None:
        if high < low:
            return f"high {high} is below low {low}"
        for name in ("open", "close"):
            value = bar[name]
            if value is not None and not low * (1 - RANGE_TOLERANCE) <= value <= high * (1 + RANGE_TOLERANCE):
                return f"{name} {value} lies outside the day's range {low}..{high}"
    return None


def _beyond(close: float, reference: float | None) -> bool:
    return reference is not None and not reference / JUMP <= close <= reference * JUMP


def screen_bars(
    bars: Mapping[str, pd.DataFrame], prior: Mapping[str, PriorClose], sessions: Container[dt.date], source: str
) -> Screened:
    """Split each ticker's bars (a frame of STOCK_COLUMNS, oldest first) into documents to store and bars to hold
    (see the module docstring); `prior` is each ticker's last stored and last delivered close before them."""
    out = Screened()
    for ticker, frame in bars.items():
        state = prior.get(ticker, PriorClose(None))
        kept: list[dict[str, Any]] = []
        for row in frame.to_dict("records"):
            day: dt.date = row["date"]
            split = _num(row.get("splits")) or 0.0
            previous = state.delivered if state.delivered is not None else state.stored
            base = previous / split if split > 0 and previous is not None else None
            bar = bar_document(row, source, base)
            reason = _shape_problem(bar, sessions, day)
            close = bar["close"]
            if reason is None and close is not None:
                per = split if split > 0 else 1.0
                stored = None if state.stored is None else state.stored / per
                delivered = None if state.delivered is None else state.delivered / per
                if _beyond(close, stored):
                    if delivered is not None and delivered != stored and not _beyond(close, delivered):
                        out.confirmed.append(
                            f"{ticker} {day}: close {close:,.2f} is beyond {JUMP:g}x of the last stored close "
                            f"{state.stored:,.2f} but within it of the held close {state.delivered:,.2f}: stored "
                            "(a level shift the next session confirms)")
                    else:
                        reason = (f"close {close:,.2f} is {close / stored:,.2f}x the previous close {state.stored:,.2f}"
                                  f"{f' after a {split:g}:1 split' if split > 0 else ''}, beyond {JUMP:g}x either way "
                                  "with no split to explain it")
                        state = PriorClose(state.stored, close)
            if reason is not None:
                out.held.append(Held(ticker, day, "US", bar, reason))
                continue
            kept.append(bar)
            if close is not None:
                state = PriorClose(close, close)
        if kept:
            out.kept[ticker] = kept
    return out
