"""NASDAQ Trader's symbol directory (nasdaqtrader.com/dynamic/SymDir) parsed into the listed US common stocks (pure).

Two pipe-separated files, each with a header line and a last line "File Creation Time: mmddyyyyhh:mm|||...":
- nasdaqlisted.txt: Symbol|Security Name|Market Category|Test Issue|Financial Status|Round Lot Size|ETF|NextShares
  (every row is on Nasdaq, exchange "Q");
- otherlisted.txt: ACT Symbol|Security Name|Exchange|CQS Symbol|ETF|Round Lot Size|Test Issue|NASDAQ Symbol
  (exchange N NYSE, A NYSE American, P NYSE Arca, Z Cboe BZX, V IEX, M NYSE Texas, formerly NYSE Chicago).

A file without its creation-time line was cut short in transit and is refused whole (BadDataError naming it):
a partial list would make every stock after the cut look delisted."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field

from lib.errors import BadDataError

NASDAQ_FILE = "nasdaqlisted.txt"
OTHER_FILE = "otherlisted.txt"
NASDAQ_COLUMNS = ("Symbol", "Security Name", "Market Category", "Test Issue", "Financial Status", "Round Lot Size",
                  "ETF", "NextShares")
OTHER_COLUMNS = ("ACT Symbol", "Security Name", "Exchange", "CQS Symbol", "ETF", "Round Lot Size", "Test Issue",
                 "NASDAQ Symbol")
EXCHANGES = {"Q", "N", "A", "P", "Z", "V", "M"}
FOOTER = re.compile(r"^File Creation Time:\s*(\d{10}:\d{2})")
# A Yahoo symbol after mapping: letters, digits, a share class after a dash (BRK-B).
YAHOO_TICKER = re.compile(r"^[A-Z0-9]{1,6}(-[A-Z]{1,2})?$")
# Nasdaq's fifth-letter codes for what is not the issuer's share: W warrant, U unit, R right.
NASDAQ_FIFTH_LETTER = {"W": "warrant", "U": "unit", "R": "right"}
# otherlisted's ACT suffixes for the same (.W or .WS warrant, .U unit, .R right); other single letters after a
# dot are share classes (BRK.B, BF.A) and stay.
OTHER_SUFFIX = {"W": "warrant", "WS": "warrant", "U": "unit", "R": "right"}
# What the security name says, checked in this order (the first match names the reason).
NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # preferred shares, their depositary shares, preference units; "Preferred Bank - Common Stock" stays
    ("preferred", re.compile(r"\bPreferred\s+(Stock|Shares?|Securities|Units?)\b|\bPreference\s+(Shares?|Units?)\b"
                             r"|\bPfd\b|\bDepositary\s+Shares?\b.*\bPreferred\b", re.IGNORECASE)),
    # SPAC units ("- Units", "Units, each consisting of ..."); LP common units and royalty trust units stay
    ("unit", re.compile(r"\s-\s+Units?\s*$|\bUnits?,?\s+each\s+(unit\s+)?consist", re.IGNORECASE)),
    ("warrant", re.compile(r"\bWarrants?\b", re.IGNORECASE)),
    ("right", re.compile(r"\bRights?\b", re.IGNORECASE)),
    # exchange-listed debt: "Senior Notes due 2028", "Perpetual Subordinated Notes", "First Mortgage Bonds, ...
    # due 2066", debentures, exchange-traded notes (ETN, flagged ETF=N), corporate-backed trust certificates
    ("note", re.compile(r"\b(Notes?|Bonds?)\b.*\bdue\b|\bSubordinated\s+Notes?\b|\bDebentures?\b"
                        r"|\bExchange[- ]Traded\s+Notes?\b|\bETNs?\b|\bCorp(orate)?\s+Backed\b|\bSTRATS\b",
                        re.IGNORECASE)),
)


@dataclass(frozen=True)
class Listing:
    """One listed common stock: its Yahoo ticker, the file's symbol, name and exchange code."""

    ticker: str
    symbol: str
    name: str
    exchange: str
    financial_status: str | None = None  # Nasdaq's code when not normal: D deficient, E delinquent, H both, ...


@dataclass
class SymbolDirectory:
    """The common stocks of one or both files, when the files were made, and what was dropped, per reason."""

    listings: list[Listing]
    created: dt.datetime  # the older file's creation time (New York), when both are read
    dropped: Counter[str] = field(default_factory=Counter)
    deficient: int = 0  # Nasdaq stocks kept although their financial status is not normal

    def summary(self) -> str:
        """One line for the log: kept, dropped per reason, marked."""
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(self.dropped.items())) or "none"
        return (f"{len(self.listings)} common stocks listed ({self.created:%Y-%m-%d %H:%M} New York); dropped: "
                f"{reasons}; {self.deficient} kept marked non-compliant (Nasdaq financial status)")


def yahoo_ticker(symbol: str) -> str:
    """Yahoo's form of a listed symbol: a share class after a dash (BRK.B and NASDAQ's BRK/B -> BRK-B)."""
    return symbol.strip().upper().replace(".", "-").replace("/", "-").replace(" ", "-")


def creation_time(text: str, file: str) -> dt.datetime:
    """The "File Creation Time: mmddyyyyhh:mm" of the file's last line; BadDataError if it is missing."""
    lines = [line for line in text.splitlines() if line.strip()]
    match = FOOTER.match(lines[-1]) if lines else None
    if match is None:
        raise BadDataError(f"{file}: no 'File Creation Time' last line: the file is cut short (download it again)")
    try:
        return dt.datetime.strptime(match.group(1), "%m%d%Y%H:%M")
    except ValueError:
        raise BadDataError(f"{file}: unreadable File Creation Time {match.group(1)!r} (mmddyyyyhh:mm)") from None


def _rows(text: str, file: str, columns: tuple[str, ...]) -> tuple[list[dict[str, str]], dt.datetime, int]:
    """The data rows as dicts, the creation time, and the number of malformed rows skipped."""
    created = creation_time(text, file)
    lines = [line.rstrip("\r") for line in text.splitlines() if line.strip()]
    header = tuple(part.strip() for part in lines[0].split("|"))
    if header != columns:
        raise BadDataError(f"{file}: the header is {'|'.join(header)[:120]!r}, expected {'|'.join(columns)!r} "
                      "(is this NASDAQ Trader's symbol directory file?)")
    rows, malformed = [], 0
    for line in lines[1:-1]:
        parts = line.split("|")
        if len(parts) != len(columns):
            malformed += 1
            continue
        rows.append(dict(zip(columns, (p.strip() for p in parts), strict=True)))
    return rows, created, malformed


def _by_name(name: str) -> str | None:
    for reason, pattern in NAME_RULES:
        if pattern.search(name):
            return reason
    return None


def nasdaq_reason(row: dict[str, str]) -> str | None:
    """Why a nasdaqlisted.txt row is not a common stock, or None. Rules in order: Test Issue=Y (test_issue),
    ETF=Y (etf), NextShares=Y (nextshares), a five-letter symbol whose fifth letter is W, U or R (warrant, unit,
    right), then the security name's words (NAME_RULES: preferred, unit, warrant, right, note)."""
    symbol = row["Symbol"]
    if row["Test Issue"] == "Y":
        return "test_issue"
    if row["ETF"] == "Y":
        return "etf"
    if row["NextShares"] == "Y":
        return "nextshares"
    if len(symbol) == 5 and symbol[4] in NASDAQ_FIFTH_LETTER:
        return NASDAQ_FIFTH_LETTER[symbol[4]]
    return _by_name(row["Security Name"])


def other_reason(row: dict[str, str]) -> str | None:
    """Why an otherlisted.txt row is not a common stock, or None. Rules in order: Test Issue=Y (test_issue),
    ETF=Y (etf), an ACT symbol with "$" (preferred: ABR$D), a dot suffix .W/.WS/.U/.R (warrant, unit, right; other
    dot suffixes are share classes: BRK.B), an exchange code not in EXCHANGES (exchange), then the security
    name's words (NAME_RULES)."""
    symbol = row["ACT Symbol"]
    if row["Test Issue"] == "Y":
        return "test_issue"
    if row["ETF"] == "Y":
        return "etf"
    if "$" in symbol:
        return "preferred"
    base, dot, suffix = symbol.partition(".")
    if dot and suffix in OTHER_SUFFIX:
        return OTHER_SUFFIX[suffix]
    if row["Exchange"] not in EXCHANGES:
        return "exchange"
    return _by_name(row["Security Name"])


def _company(name: str) -> str:
    """The issuer's part of a security name ("Apple Inc. - Common Stock" -> "Apple Inc.")."""
    head = name.split(" - ")[0] if " - " in name else re.sub(r"\s+(Class [A-Z] )?Common Stock\s*$", "", name)
    return " ".join(head.split())


def parse_nasdaq_listed(text: str, file: str = NASDAQ_FILE) -> SymbolDirectory:
    """nasdaqlisted.txt's common stocks (exchange Q); financial status other than N is kept and marked."""
    rows, created, malformed = _rows(text, file, NASDAQ_COLUMNS)
    out = SymbolDirectory([], created, Counter({"malformed": malformed} if malformed else {}))
    for row in rows:
        reason = nasdaq_reason(row)
        if reason is None and not YAHOO_TICKER.match(yahoo_ticker(row["Symbol"])):
            reason = "malformed"
        if reason is not None:
            out.dropped[reason] += 1
            continue
        status = row["Financial Status"]
        flagged = status not in ("", "N")
        out.deficient += flagged
        out.listings.append(Listing(yahoo_ticker(row["Symbol"]), row["Symbol"], _company(row["Security Name"]), "Q",
                                    status if flagged else None))
    return out


def parse_other_listed(text: str, file: str = OTHER_FILE) -> SymbolDirectory:
    """otherlisted.txt's common stocks (exchanges N, A, P, Z, V, M), keyed by the ACT symbol in Yahoo's form."""
    rows, created, malformed = _rows(text, file, OTHER_COLUMNS)
    out = SymbolDirectory([], created, Counter({"malformed": malformed} if malformed else {}))
    for row in rows:
        reason = other_reason(row)
        if reason is None and not YAHOO_TICKER.match(yahoo_ticker(row["ACT Symbol"])):
            reason = "malformed"
        if reason is not None:
            out.dropped[reason] += 1
            continue
        out.listings.append(Listing(yahoo_ticker(row["ACT Symbol"]), row["ACT Symbol"],
                                    _company(row["Security Name"]), row["Exchange"]))
    return out


def parse_symbol_files(nasdaq_text: str, other_text: str) -> SymbolDirectory:
    """Both files' common stocks, Nasdaq's first; a ticker listed twice keeps its first row (counted duplicate)."""
    nasdaq, other = parse_nasdaq_listed(nasdaq_text), parse_other_listed(other_text)
    merged = SymbolDirectory([], min(nasdaq.created, other.created), nasdaq.dropped + other.dropped,
                             nasdaq.deficient + other.deficient)
    seen: set[str] = set()
    for listing in nasdaq.listings + other.listings:
        if listing.ticker in seen:
            merged.dropped["duplicate"] += 1
            continue
        seen.add(listing.ticker)
        merged.listings.append(listing)
    return merged

