"""Text for people: columns aligned by display width (a Korean character takes two cells), sizes and
durations with their units."""

from __future__ import annotations

import contextlib
import datetime as dt
import unicodedata
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

from lib.log import KST


def width(text: str) -> int:
    """Terminal cells the text takes: wide and full-width characters (Hangul, CJK) count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, cells: int, right: bool = False) -> str:
    """The text padded with spaces to `cells` display cells (right-aligned with `right`)."""
    fill = " " * max(0, cells - width(text))
    return fill + text if right else text + fill


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = (), indent: str = "  ") -> str:
    """Rows under headers, each column as wide as its widest cell; columns listed in `right` right-aligned
    (numbers). The last column is not padded."""
    cells = [list(headers), *[list(r) for r in rows]]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        last = len(row) - 1
        parts = [pad(cell, widths[i], i in right) if i < last or i in right else cell for i, cell in enumerate(row)]
        lines.append((indent + "  ".join(parts)).rstrip())
    return "\n".join(lines)


def size(n_bytes: int | None) -> str:
    """Bytes in binary units: '512 B', '1.2 KiB', '3.4 GiB'; '-' when unknown."""
    if n_bytes is None:
        return "-"
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def duration(seconds: float | None) -> str:
    """Seconds as '4.2 s', '3 min 5 s', '2 h 10 min'; '-' when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def count(n: int | None) -> str:
    """An integer with thousands separators; '-' when unknown."""
    return "-" if n is None else f"{n:,}"


def krw(value: float | None) -> str:
    """A KRW amount with its unit: '39,363 KRW' (whole won from 100 up, two decimals below: an indicator of a
    cheap stock such as MACD can be a few won); '-' when unknown."""
    if value is None or value != value:
        return "-"
    return f"{value:,.0f} KRW" if abs(value) >= 100 else f"{value:,.2f} KRW"


# The currency of the prices being described: set by whoever screens a market (its Dataset.currency) around the
# strategies' `reason`, so a plugin's pure text function says "196.45 USD" for a US stock and "71,000 KRW" for a
# KRX one without being told the market.
_CURRENCY: ContextVar[str] = ContextVar("currency", default="KRW")
ZERO_DECIMAL = frozenset({"KRW", "JPY"})  # ISO 4217 currencies without a minor unit


@contextlib.contextmanager
def priced_in(currency: str) -> Iterator[None]:
    """Within the block, `money` states amounts in `currency` (blank: unchanged)."""
    token = _CURRENCY.set(currency or _CURRENCY.get())
    try:
        yield
    finally:
        _CURRENCY.reset(token)


def money(value: float | None) -> str:
    """A price in the current currency (`priced_in`, default KRW) with its code: '39,363 KRW' (whole won from 100
    up, two decimals below: MACD of a cheap stock can be a few won), '196.45 USD' (cents always); '-' when
    unknown."""
    currency = _CURRENCY.get()
    if currency == "KRW":
        return krw(value)
    if value is None or value != value:
        return "-"
    decimals = 0 if currency in ZERO_DECIMAL and abs(value) >= 100 else 2
    return f"{value:,.{decimals}f} {currency}"


def shares(n: float | None) -> str:
    """A share count with its unit: '1,234,567 shares'; '-' when unknown."""
    return "-" if n is None or n != n else f"{n:,.0f} shares"


def kst(moment: dt.datetime | None, zone: bool = True) -> str:
    """A stored time (naive UTC, or aware) as 'YYYY-MM-DD HH:MM KST'; '-' when unknown."""
    if moment is None:
        return "-"
    aware = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
    return aware.astimezone(KST).strftime("%Y-%m-%d %H:%M" + (" KST" if zone else ""))
