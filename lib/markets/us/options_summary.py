"""A ticker's daily options summary from its option chains (pure): the put/call ratios of volume and of open
interest over the expirations within US_OPTIONS_MAX_DAYS, the at-the-money implied volatility and the detail per
expiration, with the rows it could not use counted by reason.

The chains are yfinance's `Ticker.option_chain(expiry)` frames as records (contractSymbol, strike, bid, ask,
volume, openInterest, impliedVolatility, ...) and the underlying's quote (`regularMarketPrice`). The rules:

- a row with a zero (or missing) bid and a zero (or missing) ask has no live market: left out of everything
  (`dropped_zero_bid_ask`); a row without a usable strike likewise (`dropped_no_strike`);
- a row whose implied volatility is missing, <= 0.01 or > 5.0 (Yahoo writes 1e-5 for deep in-the-money contracts
  and several hundred percent for dead far-out ones) keeps its volume and open interest, which the exchange counts,
  but its IV is not used (`iv_implausible`);
- a missing volume or open interest counts as 0 (`nan_volume`, `nan_open_interest`);
- the put/call ratio is the puts' total over the calls' total, None when the calls' total is 0;
- the ATM IV is read on the nearest expiration at least 7 days out (a shorter one's IV jumps around its expiry)
  within the window, at the strike nearest the underlying's price among the strikes with a usable IV (the lower
  strike on a tie): the mean of the call's and the put's IV there, or the one side that has a usable IV."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from lib.context.items import ExpiryData, OptionsData

IV_MIN, IV_MAX = 0.01, 5.0  # implied volatility as a fraction a year: outside (0.01, 5.0] it is Yahoo's filler
ATM_MIN_DAYS = 7


def number(value: Any) -> float | None:
    """A finite number as a plain float; None for missing, NaN, infinite or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def ratio(puts: int, calls: int) -> float | None:
    """puts / calls rounded to 4 places; None when there are no calls (never a division by zero)."""
    return round(puts / calls, 4) if calls else None


def underlying_price(underlying: Any) -> float | None:
    """The underlying's price from yfinance's quote (`regularMarketPrice`), None when it gives none."""
    if not isinstance(underlying, Mapping):
        return None
    price = number(underlying.get("regularMarketPrice"))
    return price if price is not None and price > 0 else None


class _Side:
    """One side (calls or puts) of one expiration: its totals, usable IVs by strike and the rows' counts."""

    def __init__(self, rows: Sequence[Any], counts: dict[str, int]) -> None:
        self.volume = self.open_interest = self.rows = 0
        self.iv: dict[float, float] = {}
        for row in rows:
            if not isinstance(row, Mapping):
                counts["dropped_unreadable"] += 1
                continue
            strike = number(row.get("strike"))
            if strike is None or strike <= 0:
                counts["dropped_no_strike"] += 1
                continue
            if not (number(row.get("bid")) or 0) and not (number(row.get("ask")) or 0):
                counts["dropped_zero_bid_ask"] += 1
                continue
            self.rows += 1
            volume, open_interest = number(row.get("volume")), number(row.get("openInterest"))
            counts["nan_volume"] += volume is None
            counts["nan_open_interest"] += open_interest is None
            self.volume += int(volume or 0)
            self.open_interest += int(open_interest or 0)
            iv = number(row.get("impliedVolatility"))
            if iv is None or not IV_MIN < iv <= IV_MAX:
                counts["iv_implausible"] += 1
            else:
                self.iv[strike] = iv


def _atm(calls: _Side, puts: _Side, price: float) -> tuple[float, float | None, float | None] | None:
    """(strike, call IV, put IV) at the usable strike nearest `price`; None when no strike has a usable IV."""
    strikes = sorted(set(calls.iv) | set(puts.iv))
    if not strikes:
        return None
    strike = min(strikes, key=lambda s: (abs(s - price), s))
    return strike, calls.iv.get(strike), puts.iv.get(strike)


def summarise(ticker: str, session: dt.date, read_day: dt.date, underlying: Any, chains: Mapping[str, Any],
              max_days: int) -> OptionsData | None:
    """The summary of the chains (expiry "YYYY-MM-DD" -> {"calls": rows, "puts": rows}) as read on `read_day`
    (New York) for `session`; None when no expiration within `max_days` has a usable row."""
    counts = dict.fromkeys(("dropped_zero_bid_ask", "dropped_no_strike", "dropped_unreadable", "iv_implausible",
                            "nan_volume", "nan_open_interest", "expiries_outside"), 0)
    sides: list[tuple[str, int, _Side, _Side]] = []
    for expiry, chain in sorted(chains.items()):
        try:
            days = (dt.date.fromisoformat(expiry) - read_day).days
        except (TypeError, ValueError):
            counts["expiries_outside"] += 1
            continue
        if not 0 <= days <= max_days:
            counts["expiries_outside"] += 1
            continue
        chain = chain if isinstance(chain, Mapping) else {}
        calls, puts = _Side(chain.get("calls") or [], counts), _Side(chain.get("puts") or [], counts)
        if calls.rows or puts.rows:
            sides.append((expiry, days, calls, puts))
    if not sides:
        return None
    price = underlying_price(underlying)
    per_expiry = [ExpiryData(expiry=e, days=d, calls=c.rows, puts=p.rows, call_volume=c.volume,
                             put_volume=p.volume, call_open_interest=c.open_interest,
                             put_open_interest=p.open_interest, put_call_volume=ratio(p.volume, c.volume),
                             put_call_open_interest=ratio(p.open_interest, c.open_interest))
                  for e, d, c, p in sides]
    call_volume, put_volume = sum(e["call_volume"] for e in per_expiry), sum(e["put_volume"] for e in per_expiry)
    call_oi = sum(e["call_open_interest"] for e in per_expiry)
    put_oi = sum(e["put_open_interest"] for e in per_expiry)
    atm_expiry = atm_days = atm_strike = call_iv = put_iv = atm_iv = None
    target = next(((e, d, c, p) for e, d, c, p in sides if d >= ATM_MIN_DAYS), None)
    if price is not None and target is not None:
        found = _atm(target[2], target[3], price)
        if found is not None:
            atm_expiry, atm_days = target[0], target[1]
            atm_strike, call_iv, put_iv = found
            usable = [iv for iv in (call_iv, put_iv) if iv is not None]
            atm_iv = round(sum(usable) / len(usable), 6)
    return OptionsData(
        ticker=ticker, session=session.isoformat(), read_day=read_day.isoformat(), currency="USD",
        underlying_price=price, max_days=max_days, expiries=len(per_expiry),
        call_volume=call_volume, put_volume=put_volume, call_open_interest=call_oi, put_open_interest=put_oi,
        put_call_volume=ratio(put_volume, call_volume), put_call_open_interest=ratio(put_oi, call_oi),
        atm_expiry=atm_expiry, atm_days=atm_days, atm_strike=atm_strike, atm_call_iv=call_iv, atm_put_iv=put_iv,
        atm_iv=atm_iv, per_expiry=per_expiry, rows=sum(e["calls"] + e["puts"] for e in per_expiry),
        **counts,
    )
