"""Where the US universe comes from: NASDAQ Trader's two symbol files (what is a listed common stock), Yahoo's
equity screener (every US equity's market cap at or above the floor, in pages of 250: market_caps.py) and a few
stocks' profiles (sector, industry, shares outstanding). Live: the files over HTTP from nasdaqtrader.com, the
screener and the profiles from Yahoo through yfinance; replay: a folder holding nasdaqlisted.txt,
otherlisted.txt and profiles.csv (the recorded screener answer and profiles in one table).

Profiles (yfinance 1.7.0's source read): `Ticker.info` is one quoteSummary call (modules financialData,
quoteType, defaultKeyStatistics, assetProfile, summaryDetail) plus its quote call and carries sector, industry,
sharesOutstanding and longName; it is asked for at most US_PROFILES_PER_RUN stocks a refresh, one at a time,
paced by US_MIN_REQUEST_GAP_SECONDS like the screener's pages."""

from __future__ import annotations

import csv
import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import requests

from lib.errors import (
    BadDataError,
    ConfigError,
    EmptyAnswerError,
    RateLimitedError,
    SourceBlockedError,
    SourceError,
    TransientSourceError,
)
from lib.log import get_logger
from lib.markets.us.sources import ProfileQuery
from lib.markets.us.stocks.market_caps import (
    PAGE_SIZE,
    MarketCaps,
    normalise_quote,
    positive_number,
    read_pages,
    screener_query,
)
from lib.markets.us.stocks.symbols import NASDAQ_FILE, OTHER_FILE
from lib.spine.http import http_get

log = get_logger("us_universe")
SYMDIR_URL = "https://www.nasdaqtrader.com/dynamic/SymDir/"
PROFILES_FILE = "profiles.csv"
PROFILE_FIELDS = ("name", "sector", "industry", "shares_outstanding", "market_cap", "currency")


@dataclass
class Profiles:
    """Per-ticker profiles found, and the tickers left out of this refresh with the reason (counted)."""

    found: dict[str, dict[str, Any]] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)  # ticker -> why (no market cap, an error)

    def reasons(self) -> Counter[str]:
        """How many tickers were left out, per reason."""
        return Counter(self.left_out.values())


class UniverseSource(Protocol):
    """The two symbol files, the screener's market caps and the profiles of a few tickers."""

    name: str

    def symbol_files(self) -> tuple[str, str]:
        """The texts of nasdaqlisted.txt and otherlisted.txt."""
        ...

    def market_caps(self, floor: float) -> MarketCaps:
        """Every US equity at or above `floor` (USD) with its market cap; a failed page raises."""
        ...

    def profiles(self, tickers: Iterable[str]) -> Profiles:
        """Each ticker's profile; a ticker whose request failed or whose profile is empty is left out."""
        ...


def clean_profile(raw: dict[str, Any]) -> dict[str, Any]:
    """The profile fields with numbers as positive floats (or None) and texts stripped (or None)."""
    out: dict[str, Any] = {}
    for name in PROFILE_FIELDS:
        value = raw.get(name)
        if name in ("shares_outstanding", "market_cap"):
            out[name] = positive_number(value)
        else:
            text = "" if value is None else str(value).strip()
            out[name] = (text.upper() if name == "currency" else text) or None
    return out


def _add(profiles: Profiles, ticker: str, raw: dict[str, Any]) -> None:
    profile = clean_profile(raw)
    if not any(profile[name] for name in ("sector", "industry", "shares_outstanding")):
        profiles.left_out[ticker] = "empty profile"
    else:
        profiles.found[ticker] = profile


class LiveUniverseSource:
    """The symbol files from nasdaqtrader.com, the market caps from Yahoo's screener (`yf.screen`) and the
    profiles from Yahoo (`Ticker.info`), every Yahoo request at least gap_seconds after the previous one."""

    name = "live"

    def __init__(self, timeout: float, gap_seconds: float, yahoo: Any, session: Any | None = None,
                 url: str = SYMDIR_URL, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.gap_seconds = gap_seconds
        self.yahoo = yahoo  # a YFinanceSource: its loading, recording session and error classification
        self.session = session or requests.Session()
        self.url = url
        self.sleep = sleep
        self.clock = clock
        self._last: float | None = None

    def _pace(self) -> None:
        if self._last is not None:
            wait = self.gap_seconds - (self.clock() - self._last)
            if wait > 0:
                self.sleep(wait)
        self._last = self.clock()

    def _file(self, name: str) -> str:
        where = f"NASDAQ Trader {name}"
        response = http_get(self.session, self.url + name, where, self.timeout)
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientSourceError(f"{where}: HTTP {response.status_code}, try again later")
        if response.status_code != 200:
            raise BadDataError(f"{where}: HTTP {response.status_code} from {self.url}{name}")
        return response.text

    def symbol_files(self) -> tuple[str, str]:
        """GET nasdaqlisted.txt and otherlisted.txt; a timeout, 429 or 5xx is transient, anything else bad data."""
        return self._file(NASDAQ_FILE), self._file(OTHER_FILE)

    def market_caps(self, floor: float) -> MarketCaps:
        """Yahoo's screener, page after page of PAGE_SIZE quotes, paced; any failed page (timeout, 429, 5xx,
        refusal, unusable answer) raises, so the refresh writes nothing."""
        query = screener_query(floor)

        def page(offset: int) -> Any:
            self._pace()
            return self.yahoo.screen(query, f"Yahoo screener offset {offset}", offset=offset, size=PAGE_SIZE,
                                     sort_field="ticker", ascending=True)

        return read_pages(page)

    def profiles(self, tickers: Iterable[str]) -> Profiles:
        """`Ticker(t).info` per ticker, paced; a failure is counted for that ticker and the refresh goes on
        (after a 429, the rate-limit pause first); a refused or unloadable yfinance stops it."""
        out = Profiles()
        for ticker in tickers:
            self._pace()
            query = ProfileQuery(ticker, dt.date.min)
            try:
                raw = self.yahoo.fetch_raw(query)
            except (ConfigError, SourceBlockedError):
                raise
            except RateLimitedError as exc:
                out.left_out[ticker] = "rate limited (HTTP 429)"
                log.warning("%s; waiting %.0f s", exc, exc.pause)
                self.sleep(exc.pause)
                self._last = self.clock()
                continue
            except EmptyAnswerError:
                out.left_out[ticker] = "unknown to Yahoo"
                continue
            except SourceError as exc:
                out.left_out[ticker] = f"{type(exc).__name__}"
                log.warning("%s", exc)
                continue
            if not isinstance(raw, dict):
                out.left_out[ticker] = "unusable answer"
                continue
            _add(out, ticker, {
                "name": raw.get("longName") or raw.get("shortName"), "sector": raw.get("sector"),
                "industry": raw.get("industry"),
                "shares_outstanding": raw.get("sharesOutstanding") or raw.get("impliedSharesOutstanding"),
                "market_cap": raw.get("marketCap"), "currency": raw.get("currency"),
            })
        return out


class ReplayUniverseSource:
    """A folder with nasdaqlisted.txt, otherlisted.txt and profiles.csv (ticker + PROFILE_FIELDS columns), e.g.
    data/sample/us_stocks. profiles.csv is both recorded answers: its rows at or above the floor are the
    screener's (complete), and its sector, industry and shares the profiles; a ticker absent from it has
    neither (under the floor, no profile)."""

    name = "replay"

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ConfigError(f"US_STOCKS_REPLAY_DIR: {root} is not a folder (it holds {NASDAQ_FILE}, {OTHER_FILE} "
                              f"and {PROFILES_FILE}, like data/sample/us_stocks)")
        self.root = root

    def _path(self, name: str) -> Path:
        path = self.root / name
        if not path.is_file():
            raise ConfigError(f"US_STOCKS_REPLAY_DIR: {path} is missing (see data/sample/us_stocks/README.md)")
        return path

    def symbol_files(self) -> tuple[str, str]:
        """The two recorded files' texts."""
        return (self._path(NASDAQ_FILE).read_text(encoding="utf-8"),
                self._path(OTHER_FILE).read_text(encoding="utf-8"))

    def _recorded(self) -> dict[str, dict[str, str]]:
        path = self._path(PROFILES_FILE)
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in ("ticker", "market_cap") if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(f"US_STOCKS_REPLAY_DIR: {path} lacks the columns {missing} "
                                  f"(ticker,{','.join(PROFILE_FIELDS)})")
            return {row["ticker"].strip().upper().replace(".", "-"): row for row in reader if row.get("ticker")}

    def market_caps(self, floor: float) -> MarketCaps:
        """The recorded rows at or above `floor`, as Yahoo's screener would answer (complete, no request)."""
        out = MarketCaps()
        for ticker, row in self._recorded().items():
            _, found = normalise_quote({"symbol": ticker, "marketCap": row.get("market_cap"),
                                        "currency": row.get("currency"), "longName": row.get("name"),
                                        "sharesOutstanding": row.get("shares_outstanding")})
            if isinstance(found, str):
                out.left_out[ticker] = found
            elif found["market_cap"] >= floor:
                out.found[ticker] = found
        out.total = len(out.found)
        return out

    def profiles(self, tickers: Iterable[str]) -> Profiles:
        """The recorded profiles of these tickers; ticker absent from the file: left out ("no profile")."""
        recorded = self._recorded()
        out = Profiles()
        for ticker in tickers:
            if ticker in recorded:
                _add(out, ticker, recorded[ticker])
            else:
                out.left_out[ticker] = "no profile"
        return out
