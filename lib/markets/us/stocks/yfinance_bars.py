"""The US stocks' bars from Yahoo through `yf.download`, many tickers per request (pinned yfinance 1.7.0; its
lib/markets/us/yfinance_source.py session, pacing and error classes are reused).

What its source says about a multi-ticker download: with `threads=False` it asks Yahoo once per ticker in turn and
concatenates the answers under columns (Ticker, Price) (`group_by="ticker"`), over the union of their dates
(tz-naive for daily bars), NaN where a ticker has no bar. It never raises for one ticker's failure: each error is
caught, logged on the `yfinance` logger and the ticker's frame left empty, so a rate-limited batch would read as
a batch of stocks that did not trade. The source therefore records every HTTP status of the call (the session's)
and the errors yfinance logs, and classifies the batch by them: a 429 waits, a 401/403 blocks, a 5xx or a
timeout is retried; "no price data found" for a ticker is that ticker's empty answer only."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pandas as pd

from lib.errors import ConfigError, RateLimitedError, SourceBlockedError, TransientSourceError
from lib.markets.us.stocks.sources import StocksQuery, StocksSource, as_traded, ticker_frames
from lib.markets.us.yfinance_source import TRANSIENT_NAMES, YFinanceSource

RATE_LIMIT_WORDS = ("YFRateLimitError", "Too Many Requests", "Rate limited")


class _Errors(logging.Handler):
    """The error lines yfinance logs during one download."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class YFinanceStocksSource(StocksSource, YFinanceSource):
    """Daily bars of a batch of US stocks in one `yf.download` call (v8 chart, one request per ticker)."""

    name = "yfinance"

    def problem(self, messages: list[str], where: str) -> Exception | None:
        """What the statuses recorded and the errors yfinance logged during a download say went wrong, if
        anything (a ticker Yahoo has no bars for is not a failure of the batch)."""
        statuses = set(self.session.statuses) if self.session is not None else set()
        text = " | ".join(messages)
        if 429 in statuses or any(word in text for word in RATE_LIMIT_WORDS):
            return RateLimitedError(f"{where}: Yahoo answered 429 Too Many Requests", self.rate_limit_pause)
        if statuses & {401, 403}:
            return SourceBlockedError(f"{where}: HTTP {min(statuses & {401, 403})}, Yahoo refused the request")
        if any(s >= 500 for s in statuses):
            return TransientSourceError(f"{where}: HTTP {max(statuses)} from Yahoo")
        failed = next((m for m in messages if any(name in m for name in TRANSIENT_NAMES)), None)
        if failed is not None:
            return TransientSourceError(f"{where}: {failed.strip()[:200]}")
        return None

    def fetch_raw(self, query: StocksQuery) -> Any:
        """One yf.download of the batch over the span (end exclusive, so the day after the last session)."""
        where = f"yfinance {query}"
        yf = self._load()
        self.session.statuses.clear()
        from yfinance.data import YfData

        YfData.cache_get.cache_clear()  # a retry must really ask again (see lib/markets/us/yfinance_source.py)
        for ticker in query.tickers:
            self._remember_zone(ticker)
        errors = _Errors()
        logger = logging.getLogger("yfinance")
        logger.addHandler(errors)
        try:
            frame = yf.download(
                tickers=list(query.tickers), start=query.start.isoformat(),
                end=(query.end + dt.timedelta(days=1)).isoformat(), interval="1d", auto_adjust=False, actions=True,
                threads=False, group_by="ticker", progress=False, timeout=self.timeout, session=self.session,
            )
        except (ConfigError, SourceBlockedError):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is classified; nothing escapes unnamed
            raise self._classify(exc, where) from None
        finally:
            logger.removeHandler(errors)
        found = self.problem(errors.messages, where)
        if found is not None:
            raise found
        return frame

    def normalise(self, raw: Any, query: StocksQuery) -> dict[str, pd.DataFrame]:
        """Each ticker's bars, as traded (Yahoo's split-adjusted prices before a split in the span undone)."""
        return {ticker: as_traded(frame) for ticker, frame in ticker_frames(raw).items()}
