"""us.options: a daily options summary of the US_OPTIONS_TOP_N largest active US stocks, on the watermark cadence
(CBOE's public put/call files stopped in 2019; Yahoo's chains through yfinance stand in).

A run is a sweep of one page per ticker, largest market cap first, the tickers read from the US universe when the
run starts (`prepare`: system_info.target_tickers under the `us_` namespace, active ones). The cursor names the
sweep's start and the last ticker stored, so a killed run resumes with the next ticker; once the last ticker is
stored the watermark reads through the sweep's start.

Each ticker's page is one item (lib/context/items.py OptionsData, the rules in options_summary.py): key
"<ticker>|<session>", the XNYS session the snapshot belongs to (a read before 09:30 New York, or on a closed day,
belongs to the previous session); `known_at` = the read time (a snapshot, not revisable by the source: a second
read of the same session is a new value, the earlier kept as a vintage). Sources: yfinance or the recorded chains
of US_OPTIONS_REPLAY_DIR (lib/markets/us/options_source.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from lib.errors import ConfigError
from lib.log import get_logger
from lib.markets.us import NEW_YORK
from lib.markets.us.options_summary import summarise
from lib.markets.us.settings import us_settings
from lib.markets.us.sweep import parse_sweep_cursor, sweep_mark
from lib.spine.watermark import Item, Mark, Page, Rejected, WatermarkReader

if TYPE_CHECKING:
    from lib.config import Settings
    from lib.spine.calendar import TradingCalendar
    from lib.storage import Storage

log = get_logger("us_options")
OPEN = dt.time(9, 30)  # XNYS's regular open, New York time
QUOTE_SKEW = dt.timedelta(minutes=15)  # Yahoo's quote time against the run's clock


@dataclass(frozen=True)
class OptionsQuery:
    """One page of a sweep: one ticker's chains, as of the run's time."""

    ticker: str  # Yahoo's form, as the US universe stores it ("BRK-B")
    sweep: dt.datetime  # when the sweep started (aware UTC): the watermark once its last ticker is stored
    now: dt.datetime  # the run's time (aware UTC); a recorded snapshot read later is not served
    max_days: int  # expirations within this many days of the read day are asked for
    last: bool  # the sweep's last ticker


class OptionsSource(Protocol):
    """Where the chains come from: Yahoo (yfinance) or a folder of recorded snapshots."""

    name: str
    network: bool

    def fetch(self, query: OptionsQuery) -> dict[str, Any] | None:
        """{"read_at": aware datetime, "underlying": quote dict, "chains": {expiry: {"calls": rows, "puts": rows}}},
        or None when the source has no options for the ticker."""
        ...


def top_tickers(storage: Storage, top_n: int) -> list[str]:
    """The `top_n` largest active stocks of the US universe by market cap (USD), largest first; a ticker without
    a market cap comes last."""
    docs = storage.scoped("us_").universe.universe(active_only=True)

    def size(doc: Mapping[str, Any]) -> float:
        cap = doc.get("market_cap")
        return float(cap) if isinstance(cap, int | float) and not isinstance(cap, bool) else -1.0

    ranked = sorted((d for d in docs if d.get("ticker")), key=lambda d: (-size(d), d["ticker"]))
    return [d["ticker"] for d in ranked[:top_n]]


def session_of(calendar: TradingCalendar, moment: dt.datetime) -> dt.date:
    """The XNYS session a snapshot read at `moment` belongs to: that day's once the market has opened, else the
    previous session."""
    local = moment.astimezone(NEW_YORK)
    day = local.date()
    if calendar.is_session(day) and local.time() >= OPEN:
        return day
    return calendar.previous_session(day)


def _quote_time(underlying: Any) -> dt.datetime | None:
    """When Yahoo's quote of the underlying was made (`regularMarketTime`, epoch seconds), aware UTC."""
    epoch = underlying.get("regularMarketTime") if isinstance(underlying, Mapping) else None
    if isinstance(epoch, int | float) and not isinstance(epoch, bool):
        return dt.datetime.fromtimestamp(epoch, dt.UTC)
    return None


class UsOptionsReader(WatermarkReader):
    """us.options on the watermark cadence: a sweep of one page per ticker (see the module docstring)."""

    name = "yahoo_options"
    vintages = False  # a snapshot: known when read

    def __init__(self, source: OptionsSource, calendar: TradingCalendar, top_n: int, max_days: int,
                 tickers: Callable[[Storage, int], list[str]] = top_tickers, min_gap_seconds: float = 0.0,
                 max_attempts: int = 3, backoff_seconds: float = 5.0) -> None:
        self.source = source
        self.name = source.name
        self.network = source.network
        self.calendar = calendar
        self.top_n = top_n
        self.max_days = max_days
        self._tickers_of = tickers
        self.min_gap_seconds = min_gap_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.tickers: list[str] = []
        self.without: list[str] = []  # this run's tickers the source has no options for, said once at the end

    def prepare(self, storage: Storage, now: dt.datetime) -> None:
        """The sweep's tickers: the largest active stocks of the US universe stored by the run."""
        self.tickers = self._tickers_of(storage, self.top_n)
        self.without = []
        if not self.tickers:
            log.info("us.options: no active stock in the US universe (us_stocks_update.py --setup stores it): "
                     "nothing to read")

    def build_query(self, mark: Mark, now: dt.datetime) -> OptionsQuery:
        """The next ticker of the stored sweep, or the first of a new one."""
        now = now.astimezone(dt.UTC)
        if not self.tickers:
            return OptionsQuery("", now, now, self.max_days, True)
        resumed = parse_sweep_cursor(mark.cursor)
        rest: list[str] = []
        if resumed is not None and resumed[1] in self.tickers:
            rest = self.tickers[self.tickers.index(resumed[1]) + 1:]
        sweep = resumed[0] if resumed is not None and rest else now
        ticker = (rest or self.tickers)[0]
        return OptionsQuery(ticker, sweep, now, self.max_days, ticker == self.tickers[-1])

    def fetch_raw(self, query: OptionsQuery) -> dict[str, Any] | None:
        """The ticker's chains from the source."""
        return self.source.fetch(query) if query.ticker else None

    def _item(self, raw: Any, query: OptionsQuery) -> Item | Rejected | None:
        if raw is None:
            self.without.append(query.ticker)
            return None
        read_at = raw.get("read_at") if isinstance(raw, Mapping) else None
        chains = raw.get("chains") if isinstance(raw, Mapping) else None
        if not isinstance(read_at, dt.datetime) or read_at.tzinfo is None or not isinstance(chains, Mapping):
            return Rejected("the answer is not {read_at, underlying, chains}", raw, query.ticker)
        quoted = _quote_time(raw.get("underlying"))
        if quoted is not None and quoted > read_at + QUOTE_SKEW:
            # Yahoo answers the chains of now: a past --today read live would file them under the wrong session
            raise ConfigError(f"us.options: Yahoo quoted {query.ticker} at {quoted:%Y-%m-%d %H:%M} UTC, after the "
                              f"run's time {read_at:%Y-%m-%d %H:%M} UTC: a past --today needs recorded chains "
                              "(US_OPTIONS_REPLAY_DIR); drop --today to read Yahoo")
        session = session_of(self.calendar, read_at)
        data = summarise(query.ticker, session, read_at.astimezone(NEW_YORK).date(), raw.get("underlying"), chains,
                         query.max_days)
        if data is None:
            log.info("us.options: %s has no usable contract within %d days", query.ticker, query.max_days)
            return None
        at = dt.datetime.combine(session, dt.time(0), tzinfo=NEW_YORK)
        return Item(f"{query.ticker}|{session.isoformat()}", at, dict(data), read_at)

    def normalise(self, raw: Any, query: OptionsQuery) -> Page:
        """One item for the ticker (none when it has no usable contract), or the answer refused."""
        found = self._item(raw, query) if query.ticker else None
        items = (found,) if isinstance(found, Item) else ()
        rejected = (found,) if isinstance(found, Rejected) else ()
        mark = sweep_mark(query.ticker, query.sweep, query.last)
        if query.ticker and query.last and self.without:
            log.info("us.options: %d of %d ticker(s) have no options at the source: %s", len(self.without),
                     len(self.tickers), ", ".join(self.without))
        return Page(items, mark, more=not query.last, rejected=rejected)


def options_reader(settings: Settings) -> UsOptionsReader:
    """us.options's reader: Yahoo through yfinance, or the recorded chains of US_OPTIONS_REPLAY_DIR."""
    from lib.markets.us.market import us_calendar
    from lib.markets.us.options_source import RecordedOptions, YahooOptions

    us = us_settings(settings)
    source: OptionsSource
    if us.options_replay_dir is not None:
        source = RecordedOptions(us.options_replay_dir)
    else:
        source = YahooOptions(us.request_timeout_seconds, us.rate_limit_backoff_seconds, us.yfinance_http,
                              us.yfinance_cache_dir, us.min_request_gap_seconds)
    return UsOptionsReader(source, us_calendar(settings), us.options_top_n, us.options_max_days,
                           min_gap_seconds=us.min_request_gap_seconds, max_attempts=us.max_attempts,
                           backoff_seconds=us.retry_backoff_seconds)
