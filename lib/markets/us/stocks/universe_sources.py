"""Where the US universe comes from: NASDAQ Trader's two symbol files and each stock's profile (market cap,
shares, sector, industry, name, currency). Live: the files over HTTP from nasdaqtrader.com and the profiles from
Yahoo through yfinance; replay: a folder holding nasdaqlisted.txt, otherlisted.txt and profiles.csv.

Market cap source (yfinance 1.7.0's source read): `Ticker.info` is one quoteSummary call (modules financialData,
quoteType, defaultKeyStatistics, assetProfile, summaryDetail) plus its quote call, and carries marketCap,
sharesOutstanding, sector, industry, longName and currency together; `fast_info.market_cap` is shares from
get_shares_full times the last close of a 1-year history (two other calls) and has no sector or industry. So
the universe reads `.info`, one ticker at a time, paced by US_MIN_REQUEST_GAP_SECONDS."""

from __future__ import annotations

import csv
import datetime as dt
import math
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
    """The two symbol files and the profiles of a list of tickers."""

    name: str

    def symbol_files(self) -> tuple[str, str]:
        """The texts of nasdaqlisted.txt and otherlisted.txt."""
        ...

    def profiles(self, tickers: Iterable[str]) -> Profiles:
        """Each ticker's profile; a ticker without a market cap or whose request failed is left out."""
        ...


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def clean_profile(raw: dict[str, Any]) -> dict[str, Any]:
    """The profile fields with numbers as positive floats (or None) and texts stripped (or None)."""
    out: dict[str, Any] = {}
    for name in PROFILE_FIELDS:
        value = raw.get(name)
        if name in ("shares_outstanding", "market_cap"):
            out[name] = _number(value)
        else:
            text = "" if value is None else str(value).strip()
            out[name] = (text.upper() if name == "currency" else text) or None
    return out


def _add(profiles: Profiles, ticker: str, raw: dict[str, Any]) -> None:
    profile = clean_profile(raw)
    if profile["market_cap"] is None:
        profiles.left_out[ticker] = "no market cap"
    elif profile["currency"] not in (None, "USD"):
        profiles.left_out[ticker] = f"market cap in {profile['currency']}, not USD"
    else:
        profile["currency"] = "USD"
        profiles.found[ticker] = profile


class LiveUniverseSource:
    """The symbol files from nasdaqtrader.com and the profiles from Yahoo (yfinance `Ticker.info`), paced."""

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

    def profiles(self, tickers: Iterable[str]) -> Profiles:
        """`Ticker(t).info` per ticker, at least gap_seconds apart; a failure is counted for that ticker and the
        refresh goes on (after a 429, the rate-limit pause first); a refused or unloadable yfinance stops it."""
        out = Profiles()
        last: float | None = None
        for ticker in tickers:
            if last is not None:
                wait = self.gap_seconds - (self.clock() - last)
                if wait > 0:
                    self.sleep(wait)
            last = self.clock()
            query = ProfileQuery(ticker, dt.date.min)
            try:
                raw = self.yahoo.fetch_raw(query)
            except (ConfigError, SourceBlockedError):
                raise
            except RateLimitedError as exc:
                out.left_out[ticker] = "rate limited (HTTP 429)"
                log.warning("%s; waiting %.0f s", exc, exc.pause)
                self.sleep(exc.pause)
                last = self.clock()
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
    data/sample/us_stocks; a ticker absent from profiles.csv has no profile (as a failed request)."""

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

    def profiles(self, tickers: Iterable[str]) -> Profiles:
        """The recorded profiles of these tickers; ticker absent from the file: left out ("no profile")."""
        path = self._path(PROFILES_FILE)
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in ("ticker", "market_cap") if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(f"US_STOCKS_REPLAY_DIR: {path} lacks the columns {missing} "
                                  f"(ticker,{','.join(PROFILE_FIELDS)})")
            recorded = {row["ticker"].strip().upper().replace(".", "-"): row for row in reader if row.get("ticker")}
        out = Profiles()
        for ticker in tickers:
            if ticker in recorded:
                _add(out, ticker, recorded[ticker])
            else:
                out.left_out[ticker] = "no profile"
        return out
