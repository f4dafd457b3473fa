"""Yahoo Finance through yfinance (pinned 1.7.0; its source was read for these facts):

- yfinance speaks through curl_cffi unless YF_DISABLE_CURL_CFFI is set when it is imported, so it is imported
  lazily, after US_YFINANCE_HTTP has been put in the environment; with `requests` a test can hand it a
  requests.Session whose transport answers offline, and yfinance's own parsing runs on it.
- With yf.config.debug.hide_exceptions left at its default, a timeout is logged and turned into an empty frame,
  indistinguishable from "no data"; we set it False so every failure raises and can be classified. yfinance's
  own retries are set to 0: the source chain retries, paced.
- A 429 raises YFRateLimitError, which yfinance never retries: it becomes a RateLimitedError the chain waits out.
- yfinance keeps responses to past date ranges in an in-process cache, failures included; it is emptied
  before each call so that a retry really asks again.
- yfinance turns many HTTP failures into "no data" (a 500 on its time-zone lookup reads as "possibly delisted;
  no timezone found"), so the source hands it a session that records every response's status and classifies a
  failure by what the server said; and it tells yfinance the time zone of XNYS-listed and Korean symbols, which
  saves that lookup (one request per ticker) altogether.
- Daily history with start/end asks Yahoo once per ticker (plus a cached time-zone lookup); Yahoo may add a live
  row for a session still trading, which validation drops (rows after the last session asked for).
- funds_data.top_holdings gives the top 10 holdings with fractional weights and raises for a non-fund.
- Ticker.info costs three requests and any field may be missing."""

from __future__ import annotations

import datetime as dt
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from lib.errors import (
    BadDataError,
    ConfigError,
    EmptyAnswerError,
    RateLimitedError,
    SourceBlockedError,
    TransientSourceError,
)
from lib.log import get_logger
from lib.markets.us.sources import BAR_COLUMNS, BarsQuery, HoldingsQuery, ProfileQuery, Query, UsSource

log = get_logger("yfinance")
TRANSIENT_NAMES = {
    "Timeout", "TimeoutError", "ConnectionError", "ConnectTimeout", "ReadTimeout", "ChunkedEncodingError",
    "RemoteDisconnected", "ProtocolError", "IncompleteRead", "DNSError", "ProxyError", "SSLError", "CurlError",
}


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def known_time_zone(symbol: str) -> str | None:
    """The exchange time zone of symbols whose listing says it: XNYS/Nasdaq (no suffix) and KRX (.KS, .KQ)."""
    if "." not in symbol and "=" not in symbol and "^" not in symbol:
        return "America/New_York"
    if symbol.endswith((".KS", ".KQ")):
        return "Asia/Seoul"
    return None


def _recording_session(http_module: Any) -> Any:
    """A session of yfinance's active backend (curl_cffi or requests) that keeps each response's status."""
    backend = http_module.requests.Session

    class RecordingSession(backend):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.statuses: list[int] = []

        def request(self, *args: Any, **kwargs: Any) -> Any:
            response = super().request(*args, **kwargs)
            self.statuses.append(int(response.status_code))
            return response

    if http_module.HAS_CURL_CFFI:
        return RecordingSession(impersonate="chrome")
    session = RecordingSession()
    session.headers.update(http_module.new_session().headers)
    return session


class Answered(Exception):
    """The HTTP status of an answer yfinance handed back as data, for the Yahoo error classification."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.response = type("Response", (), {"status_code": status})()


def _no_close(day: dt.date) -> dt.datetime:
    raise NotImplementedError("a Yahoo reader of something other than daily bars has no session close")


class YFinanceSource(UsSource):
    """Daily bars (v8 chart), top holdings and profiles (v10 quoteSummary) from Yahoo Finance."""

    name = "yfinance"

    def __init__(
        self,
        timeout: float,
        publish_delay: dt.timedelta,
        close_at: Callable[[dt.date], dt.datetime],
        rate_limit_pause: float = 60.0,
        http: str = "curl_cffi",
        cache_dir: Path | None = None,
        transport: Any = None,
    ) -> None:
        self.timeout = timeout
        self.publish_delay = publish_delay
        self.close_at = close_at
        self.rate_limit_pause = rate_limit_pause
        self.http = http
        self.cache_dir = cache_dir
        self.transport = transport  # a requests transport adapter answering offline (tests)
        self.session: Any = None
        self._yf: Any = None

    @classmethod
    def plumbing(cls, timeout: float, rate_limit_pause: float = 60.0, http: str = "curl_cffi",
                 cache_dir: Path | None = None, transport: Any = None) -> YFinanceSource:
        """The loading (curl_cffi or requests), recording session and error classification alone, for the readers
        of something other than daily bars (news, options, statements): no publish delay, no session close."""
        return cls(timeout, dt.timedelta(0), _no_close, rate_limit_pause, http, cache_dir, transport)

    def checked(self, call: Callable[[], Any], where: str) -> tuple[Any, int | None]:
        """One yfinance call on a cleared status record: its answer and the last HTTP status. A failure (an
        exception, Yahoo's "down" page, an error status other than 404 handed back as data) is raised as the
        pipeline's error kind; a 404 is the caller's to read (no such symbol or nothing for it)."""
        self.session.statuses.clear()
        try:
            answer = call()
        except (ConfigError, SourceBlockedError):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is classified; nothing escapes unnamed
            if "CURRENTLY DOWN" in str(exc):  # yfinance's YFDataException for Yahoo's "Will be right back" page
                raise TransientSourceError(f"{where}: Yahoo Finance says it is down") from None
            raise self._classify(exc, where) from None
        status = self.session.statuses[-1] if self.session.statuses else None
        if status is not None and status >= 400 and status != 404:
            raise self._classify(Answered(status), where)
        return answer, status

    def available_at(self, day: dt.date) -> dt.datetime:
        """Yahoo's daily bar is final a while after the session's close (US_PUBLISH_DELAY_MINUTES)."""
        return self.close_at(day) + self.publish_delay

    def _load(self) -> Any:
        if self._yf is None:
            want_requests = self.http == "requests"
            if "yfinance" not in sys.modules:
                if want_requests:
                    os.environ["YF_DISABLE_CURL_CFFI"] = "1"
            try:
                import yfinance as yf
                from yfinance import _http
            except Exception as exc:  # noqa: BLE001 - any import failure disables the source for the run
                raise SourceBlockedError(f"yfinance could not be loaded: {exc.__class__.__name__}: {exc}") from None
            if want_requests and _http.HAS_CURL_CFFI:
                raise ConfigError(
                    "US_YFINANCE_HTTP=requests, but yfinance was imported earlier in this process with curl_cffi"
                )
            yf.config.debug.hide_exceptions = False
            yf.config.network.retries = 0
            if self.cache_dir is not None:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                yf.set_tz_cache_location(str(self.cache_dir))
            self.session = _recording_session(_http)
            if self.transport is not None:
                self.session.mount("https://", self.transport)
                self.session.mount("http://", self.transport)
            self._yf = yf
        return self._yf

    def _remember_zone(self, symbol: str) -> None:
        """Tell yfinance the exchange time zone of a symbol whose listing says it (saves a request per ticker)."""
        zone = known_time_zone(symbol)
        if zone is not None:
            from yfinance import cache

            tz_cache = cache.get_tz_cache()
            if tz_cache.lookup(symbol) is None:
                tz_cache.store(symbol, zone)

    def _ticker(self, symbol: str) -> Any:
        yf = self._load()
        self._remember_zone(symbol)
        return yf.Ticker(symbol, session=self.session)

    def _classify(self, exc: Exception, where: str) -> Exception:
        """yfinance's and the HTTP layer's exceptions, and the statuses the server sent during the call, as the
        pipeline's error kinds."""
        from yfinance import exceptions as yfe

        statuses = set(self.session.statuses) if self.session is not None else set()
        if isinstance(exc, yfe.YFRateLimitError) or 429 in statuses:
            return RateLimitedError(f"{where}: Yahoo answered 429 Too Many Requests", self.rate_limit_pause)
        if statuses & {401, 403}:
            return SourceBlockedError(f"{where}: HTTP {min(statuses & {401, 403})}, Yahoo refused the request")
        if any(s >= 500 for s in statuses):
            return TransientSourceError(f"{where}: HTTP {max(statuses)} from Yahoo")
        if isinstance(exc, yfe.YFTickerMissingError):
            return EmptyAnswerError(f"{where}: {exc}")
        status = _status(exc)
        if status in (401, 403):
            return SourceBlockedError(f"{where}: HTTP {status}, Yahoo refused the request")
        if status == 429:
            return RateLimitedError(f"{where}: HTTP 429", self.rate_limit_pause)
        if status is not None and status >= 500:
            return TransientSourceError(f"{where}: HTTP {status}")
        if status == 404:
            return EmptyAnswerError(f"{where}: HTTP 404, Yahoo does not know the symbol")
        if isinstance(exc, TimeoutError | socket.timeout | ConnectionError) or type(exc).__name__ in TRANSIENT_NAMES:
            return TransientSourceError(f"{where}: {type(exc).__name__}")
        if isinstance(exc, KeyError | ValueError | TypeError | IndexError | yfe.YFException):
            return BadDataError(f"{where}: unusable answer ({type(exc).__name__}: {exc})")
        return BadDataError(f"{where}: {type(exc).__name__}: {exc}")

    @staticmethod
    def _where(query: Query) -> str:
        match query:
            case BarsQuery():
                return f"yfinance {query.ticker} {query.start}..{query.end}"
            case HoldingsQuery():
                return f"yfinance {query.etf} holdings"
            case ProfileQuery():
                return f"yfinance {query.ticker} profile"
        raise TypeError(f"unknown query {query!r}")

    def _ask(self, query: Query) -> Any:
        """The one yfinance call a query stands for."""
        match query:
            case BarsQuery():
                return self._ticker(query.ticker).history(
                    start=query.start.isoformat(), end=(query.end + dt.timedelta(days=1)).isoformat(),
                    interval="1d", auto_adjust=True, actions=True, repair=False, timeout=self.timeout,
                )
            case HoldingsQuery():
                return self._ticker(query.etf).funds_data.top_holdings
            case ProfileQuery():
                return self._ticker(query.ticker).info
        raise TypeError(f"unknown query {query!r}")

    def fetch_raw(self, query: Query) -> Any:
        """One yfinance call: history (v8 chart), funds_data.top_holdings or info (v10 quoteSummary)."""
        where = self._where(query)
        self._load()
        self.session.statuses.clear()
        # yfinance answers a past date range from an in-process cache of responses, failed ones included, so a
        # retry would get the same 500 back without asking Yahoo again: start every call from an empty cache.
        from yfinance.data import YfData

        YfData.cache_get.cache_clear()
        try:
            return self._ask(query)
        except (ConfigError, SourceBlockedError):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is classified; nothing escapes unnamed
            raise self._classify(exc, where) from None

    def normalise(self, raw: Any, query: Query) -> Any:
        """yfinance's frames and dicts to the interface's schemas."""
        match query:
            case BarsQuery():
                if not isinstance(raw, pd.DataFrame):
                    raise BadDataError(f"{self.name} {query.ticker}: expected a frame, got {type(raw).__name__}")
                frame = pd.DataFrame({
                    "date": [ts.date() for ts in raw.index],
                    "open": raw.get("Open"), "high": raw.get("High"), "low": raw.get("Low"),
                    "close": raw.get("Close"), "volume": raw.get("Volume"),
                    "dividends": raw.get("Dividends"), "splits": raw.get("Stock Splits"),
                }, index=raw.index)
                return frame.loc[:, list(BAR_COLUMNS)].reset_index(drop=True)
            case HoldingsQuery():
                if not isinstance(raw, pd.DataFrame):
                    raise BadDataError(f"{self.name} {query.etf}: expected a frame, got {type(raw).__name__}")
                frame = pd.DataFrame({
                    "ticker": list(raw.index),
                    "name": raw.get("Name"),
                    "holding_percent": pd.to_numeric(raw.get("Holding Percent"), errors="coerce") * 100,
                }).reset_index(drop=True)
                frame.attrs["as_of"] = None  # Yahoo does not say; the collection day stands for it
                return frame
            case ProfileQuery():
                if not isinstance(raw, dict):
                    raise BadDataError(f"{self.name} {query.ticker}: expected a dict, got {type(raw).__name__}")
                return {
                    "name": raw.get("longName") or raw.get("shortName"),
                    "sector": raw.get("sector"),
                    "shares_outstanding": raw.get("sharesOutstanding") or raw.get("impliedSharesOutstanding"),
                    "market_cap": raw.get("marketCap"),
                    "currency": raw.get("currency") or raw.get("financialCurrency"),
                    "quote_type": raw.get("quoteType"),
                }
        raise TypeError(f"unknown query {query!r}")

    def screen(self, query: tuple[str, list[Any]], where: str, offset: int, size: int, sort_field: str,
               ascending: bool) -> Any:
        """One `yf.screen` page (POST v1/finance/screener) of a plain-data EquityQuery (operator, operands),
        nested; its failures classified as fetch_raw's."""
        yf = self._load()
        self.session.statuses.clear()

        def build(node: tuple[str, list[Any]]) -> Any:
            operator, operands = node
            return yf.EquityQuery(operator, [build(o) if isinstance(o, tuple) else o for o in operands])

        try:
            # count as well as size: yfinance always sends a count (25 by default) in a custom screen's body
            return yf.screen(build(query), offset=offset, size=size, count=size, sortField=sort_field,
                             sortAsc=ascending, session=self.session)
        except (ConfigError, SourceBlockedError):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is classified; nothing escapes unnamed
            raise self._classify(exc, where) from None
