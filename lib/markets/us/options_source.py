"""Where us.options's chains come from (lib/markets/us/options.py): Yahoo through yfinance, or recorded snapshots.

yfinance 1.7.0 (read in its ticker.py): `Ticker.options` GETs query2.finance.yahoo.com/v7/finance/options/<SYMBOL>
and lists the expirations ("YYYY-MM-DD"); `Ticker.option_chain(expiry)` GETs the same URL with `?date=<epoch>` and
returns (calls, puts, underlying): two frames of contractSymbol, lastTradeDate, strike, lastPrice, bid, ask,
change, percentChange, volume, openInterest, impliedVolatility, inTheMoney, contractSize, currency, and the
underlying's quote dict (regularMarketPrice, regularMarketTime, ...). It reads the answer's JSON without looking at
the HTTP status (an error body reads as "no options"), so the status of the last response decides, as for the other
Yahoo requests (lib/markets/us/yfinance_source.py: 429 as RateLimitedError, 401/403 as SourceBlockedError). One
request for the list and one per expiration within US_OPTIONS_MAX_DAYS, US_MIN_REQUEST_GAP_SECONDS apart."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lib.errors import ConfigError
from lib.log import get_logger
from lib.markets.us import NEW_YORK
from lib.markets.us.options import OptionsQuery
from lib.markets.us.yfinance_source import YFinanceSource

log = get_logger("us_options")
ROW_FIELDS = ("contractSymbol", "strike", "lastPrice", "bid", "ask", "volume", "openInterest", "impliedVolatility",
              "inTheMoney")
QUOTE_FIELDS = ("regularMarketPrice", "regularMarketTime", "currency", "marketState")


def within(expiries: Any, read_day: dt.date, max_days: int) -> list[str]:
    """The expirations ("YYYY-MM-DD") from `read_day` to `max_days` after it, in order."""
    kept = []
    for expiry in expiries or ():
        try:
            days = (dt.date.fromisoformat(str(expiry)) - read_day).days
        except ValueError:
            continue
        if 0 <= days <= max_days:
            kept.append(str(expiry))
    return sorted(kept)


def _records(frame: Any) -> list[dict[str, Any]]:
    """A chain frame's rows with the fields the summary reads (plain Python values; NaN stays NaN)."""
    if frame is None:
        return []
    columns = [c for c in ROW_FIELDS if c in frame.columns]
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.loc[:, columns].to_dict("records")]


class YahooOptions:
    """A ticker's option chains within the window from Yahoo through yfinance, with the US Yahoo plumbing."""

    name = "yfinance"
    network = True

    def __init__(self, timeout: float, rate_limit_pause: float = 60.0, http: str = "curl_cffi",
                 cache_dir: Path | None = None, gap_seconds: float = 0.0, transport: Any = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        # yfinance's option requests take no timeout argument (its GET waits 30 s)
        self.yahoo = YFinanceSource.plumbing(timeout, rate_limit_pause, http, cache_dir, transport)
        self.gap_seconds = gap_seconds
        self.sleep = sleep

    def _checked(self, call: Callable[[], Any], where: str) -> Any:
        answer, status = self.yahoo.checked(call, where)
        return None if status == 404 else answer

    def fetch(self, query: OptionsQuery) -> dict[str, Any] | None:
        """The expirations within the window, then each one's chain; None when Yahoo lists no options."""
        where = f"yfinance {query.ticker} options"
        self.yahoo._load()
        ticker = self.yahoo._ticker(query.ticker)
        listed = self._checked(lambda: ticker.options, where)
        read_day = query.now.astimezone(NEW_YORK).date()
        expiries = within(listed, read_day, query.max_days)
        if not expiries:
            return None
        chains: dict[str, Any] = {}
        underlying: Mapping[str, Any] = {}
        for expiry in expiries:
            if self.gap_seconds > 0:
                self.sleep(self.gap_seconds)
            chain = self._checked(lambda e=expiry: ticker.option_chain(e), f"{where} {expiry}")
            if chain is None or chain.calls is None:
                continue
            chains[expiry] = {"calls": _records(chain.calls), "puts": _records(chain.puts)}
            underlying = chain.underlying or underlying
        quote = {k: underlying.get(k) for k in QUOTE_FIELDS if k in underlying}
        return {"read_at": query.now, "underlying": quote, "chains": chains}


def _moment(text: Any, path: Path) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"US_OPTIONS_REPLAY_DIR: {path}: recorded_at {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ConfigError(f"US_OPTIONS_REPLAY_DIR: {path}: recorded_at {text!r} has no UTC offset (write ...Z)")
    return moment


class RecordedOptions:
    """Recorded snapshots, one JSON list per ticker (`<TICKER>.json`, e.g. data/sample/us_options): each
    {"recorded_at": ISO time, "underlying": quote, "chains": {expiry: {"calls": rows, "puts": rows}}}; a run at
    time T is answered the newest snapshot recorded by T."""

    name = "replay"
    network = False

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ConfigError(f"US_OPTIONS_REPLAY_DIR: {root} is not a folder (one <TICKER>.json per ticker, like "
                              "data/sample/us_options)")
        self.root = root

    def fetch(self, query: OptionsQuery) -> dict[str, Any] | None:
        """The ticker's newest snapshot recorded by the run's time, None when there is none."""
        path = self.root / f"{query.ticker}.json"
        if not path.is_file():
            return None
        try:
            snapshots = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"US_OPTIONS_REPLAY_DIR: {path} is not readable JSON ({exc}): fix or remove it") from None
        if not isinstance(snapshots, list) or not all(isinstance(s, dict) for s in snapshots):
            raise ConfigError(f"US_OPTIONS_REPLAY_DIR: {path} is not a list of snapshots "
                              "({recorded_at, underlying, chains})")
        dated = sorted(((_moment(s.get("recorded_at"), path), s) for s in snapshots), key=lambda pair: pair[0])
        served = [(moment, s) for moment, s in dated if moment <= query.now]
        if not served:
            return None
        moment, snapshot = served[-1]
        return {"read_at": moment, "underlying": snapshot.get("underlying"), "chains": snapshot.get("chains")}
