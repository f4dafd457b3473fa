"""The stored shape of each kind's items (`Item.data`), the contract between the collectors (lib/markets/*) and
the readers here: a collector normalises its source's answer into these fields, a reader relies on them.

Every time is stored naive UTC (lib/storage). Text from outside (titles, snippets, names) is stored as the source
gave it, minus markup; it is data, never instructions, wherever it is shown or sent."""

from __future__ import annotations

import hashlib
import re
from typing import TypedDict
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

KINDS = ("disclosures", "news", "macro", "financials", "options")


class DisclosureData(TypedDict):
    """A filing. Item key: the filing's receipt number (OpenDART `rcept_no`); `at`: the receipt day's start in
    the market's zone; `known_at`: that day's end (the source gives a date only)."""

    ticker: str  # the stock's code in the market's universe ("005930")
    company: str  # the filer company's name as the source gives it
    title: str  # the report's name ("주요사항보고서(자기주식취득결정)")
    filer: str  # who filed it
    flags: str  # the source's remark flags, kept and shown ("정" corrected, "철" withdrawn, "유", "코", ...)
    url: str  # where a person reads it (DART's viewer link built from rcept_no)
    source: str  # "dart"
    corp_code: str  # the source's own company id (OpenDART's 8-digit corp_code)


class NewsData(TypedDict):
    """One source's article about one stock. Item key: `article_key(ticker, url)`; `at` and `known_at`: its
    publication time. An article naming two stocks is two items. Stories (one per event per stock, with every
    source that carried it) are formed from these when read (lib/context/dedup.py)."""

    ticker: str
    title: str  # markup stripped (Naver's <b> tags), entities decoded
    snippet: str  # the source's summary or description, never the article's body
    url: str  # the canonical link where a person reads it
    publisher: str  # who wrote it ("한국경제", "Reuters")
    feed: str  # the feed it came through ("naver", "hankyung", "maeil", "yahoo")
    lang: str  # "ko" or "en"


class FinancialsData(TypedDict):
    """One period of a stock's statements (us.financials). Item key: "<TICKER>:<quarterly|annual>:<YYYY-MM-DD>"
    (the period's end); `at`: that date; `known_at`: the end of the day period_end + the lag setting in the
    market's zone, or the first read when later (the source gives no filing date). A changed figure is a new
    vintage of the same item, known from the read that saw it. Amounts in `currency`; None where the source has
    none. Flows (revenue, incomes, EPS, EBITDA, cash flows) are over the period; assets, debt and equity at its
    end. Capital expenditure is negative (cash paid out), as the source gives it."""

    ticker: str  # the universe's form ("BRK-B")
    frequency: str  # "quarterly" or "annual"
    period_end: str  # YYYY-MM-DD
    currency: str  # "USD"
    source: str  # "yfinance"
    total_revenue: float | None
    operating_income: float | None
    net_income: float | None
    diluted_eps: float | None  # per share
    ebitda: float | None
    total_assets: float | None
    total_debt: float | None
    stockholders_equity: float | None
    free_cash_flow: float | None
    operating_cash_flow: float | None
    capital_expenditure: float | None


FINANCIAL_FIELDS = ("total_revenue", "operating_income", "net_income", "diluted_eps", "ebitda", "total_assets",
                    "total_debt", "stockholders_equity", "free_cash_flow", "operating_cash_flow",
                    "capital_expenditure")


class MacroData(TypedDict):
    """One observation of a macro series. Item key: "<series>:<YYYY-MM-DD>" (the observation's date); `at`:
    that date; `known_at`: when this value became known (FRED's realtime_start, else the publication estimate the
    collector documents). A revised value is a new vintage of the same item."""

    series: str  # the source's id ("CPIAUCSL", "T10Y2Y", "722Y001/0101000")
    name: str  # for people ("US CPI, % change from a year ago")
    value: float | None  # None where the source says missing (FRED's ".")
    unit: str  # "%", "percentage points", "KRW per USD", "index"
    frequency: str  # "daily", "monthly", ...
    source: str  # "fred", "ecos"


class ExpiryData(TypedDict):
    """One expiration's share of an options summary (rows kept after the drop rules)."""

    expiry: str  # "YYYY-MM-DD"
    days: int  # calendar days from the read day (New York) to the expiry
    calls: int  # call rows kept
    puts: int  # put rows kept
    call_volume: int  # contracts traded in the session
    put_volume: int
    call_open_interest: int  # contracts open
    put_open_interest: int
    put_call_volume: float | None  # put_volume / call_volume; None when no call traded
    put_call_open_interest: float | None  # None when no call is open


class OptionsData(TypedDict):
    """A stock's daily options summary (lib/markets/us/options_summary.py says the rules). Item key:
    "<ticker>|<session>"; `at`: the session day's start in New York; `known_at`: when the chains were read (a
    snapshot: a later read of the same session replaces it, the earlier kept as a vintage)."""

    ticker: str  # Yahoo's form ("BRK-B")
    session: str  # the XNYS session the snapshot belongs to, "YYYY-MM-DD" (read before the open: the previous one)
    read_day: str  # the New York date of the read, from which `days` count
    currency: str  # "USD"
    underlying_price: float | None  # USD, Yahoo's regularMarketPrice at the read
    max_days: int  # expirations within this many days are summed (US_OPTIONS_MAX_DAYS)
    expiries: int  # expirations summed
    call_volume: int  # contracts, all summed expirations
    put_volume: int
    call_open_interest: int
    put_open_interest: int
    put_call_volume: float | None  # put_volume / call_volume; None when no call traded
    put_call_open_interest: float | None  # put / call open interest; None when no call is open
    atm_expiry: str | None  # the nearest expiration >= 7 days out, where the ATM IV is read
    atm_days: int | None
    atm_strike: float | None  # USD, the usable strike nearest the underlying's price
    atm_call_iv: float | None  # implied volatility, a fraction a year (0.25 = 25 %)
    atm_put_iv: float | None
    atm_iv: float | None  # mean of the call's and put's IV at atm_strike (the one side there when only one is usable)
    per_expiry: list[ExpiryData]
    rows: int  # contract rows used
    dropped_zero_bid_ask: int  # rows left out: zero bid and zero ask (no live market)
    dropped_no_strike: int  # rows left out: no usable strike
    dropped_unreadable: int  # rows left out: not a record
    iv_implausible: int  # rows kept for volume and open interest whose IV (missing, <= 0.01 or > 5.0) is not used
    nan_volume: int  # rows whose missing volume counted as 0
    nan_open_interest: int  # rows whose missing open interest counted as 0
    expiries_outside: int  # expirations answered but outside 0..max_days (or unreadable): not summed


_TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|ref|from|cmpid|ncid|guccounter|guce_.*)$", re.IGNORECASE)


def canonical_url(url: str) -> str:
    """The link without what differs between copies of one article: scheme and `www.`, case of the host,
    tracking parameters, fragment, trailing slash; the other query parameters sorted (Naver's and Maeil's
    article ids live in the query)."""
    parts = urlsplit(url.strip())
    host = parts.netloc.lower().removeprefix("www.").removeprefix("m.")
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not _TRACKING.match(k)))
    return urlunsplit(("https", host, parts.path.rstrip("/") or "/", query, ""))


def article_key(ticker: str, url: str) -> str:
    """A news item's natural key: the stock and its canonical link (a re-read of the same article is the same
    item, whatever tracking parameters the feed added this time)."""
    return f"{ticker}|{hashlib.sha1(canonical_url(url).encode()).hexdigest()[:16]}"
