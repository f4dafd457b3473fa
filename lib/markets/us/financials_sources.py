"""Where us.financials's statements come from (lib/markets/us/financials.py): Yahoo through yfinance, or recorded
statements.

yfinance 1.7.0 (its base.py and scrapers/fundamentals.py read for this): `Ticker.get_income_stmt`,
`get_balance_sheet` and `get_cash_flow` with `freq="quarterly"` or `"yearly"` each ask Yahoo's
fundamentals-timeseries once and give a frame whose rows are line items ("TotalRevenue" with pretty=False; the
`quarterly_income_stmt`-style properties prettify them to "Total Revenue") and whose columns are period-end
Timestamps, newest first; Yahoo answers at most 5 quarters or 4 years. A missing figure is NaN; a ticker Yahoo
has no statements for gives an empty frame. The US market's Yahoo plumbing (lib/markets/us/yfinance_source.py:
exceptions raised, not hidden; 429 as RateLimitedError; 401/403 as SourceBlockedError) classifies failures."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

from lib.errors import BadDataError, ConfigError, SourceBlockedError, TransientSourceError
from lib.markets.us.financials import FREQUENCIES, STATEMENTS, FinancialsQuery, frame_key
from lib.markets.us.yfinance_source import YFinanceSource

# yfinance's method per statement and its `freq` per frequency
_METHODS = {"income": "get_income_stmt", "balance": "get_balance_sheet", "cashflow": "get_cash_flow"}
_FREQ = {"quarterly": "quarterly", "annual": "yearly"}


class YahooStatements:
    """A ticker's six statement frames from Yahoo through yfinance (six requests, one Ticker)."""

    name = "yfinance"
    network = True

    def __init__(self, timeout: float, rate_limit_pause: float = 60.0, http: str = "curl_cffi",
                 cache_dir: Path | None = None, transport: Any = None) -> None:
        self.yahoo = YFinanceSource.plumbing(timeout, rate_limit_pause, http, cache_dir, transport)

    def statements(self, query: FinancialsQuery) -> dict[str, Any]:
        """`get_income_stmt`/`get_balance_sheet`/`get_cash_flow` quarterly and yearly; failures classified."""
        where = f"yfinance {query.ticker} statements"
        yahoo = self.yahoo
        yahoo._load()
        from yfinance.data import YfData

        YfData.cache_get.cache_clear()  # a retry must really ask again (see yfinance_source.py)
        ticker = yahoo._ticker(query.ticker)
        frames: dict[str, Any] = {}
        for statement in STATEMENTS:
            for frequency in FREQUENCIES:
                method = getattr(ticker, _METHODS[statement])
                frames[frame_key(statement, frequency)] = self._frame(method, frequency, where)
        return frames

    def _frame(self, method: Any, frequency: str, where: str) -> Any:
        """One statement frame; Yahoo's empty answer (no such statement for the symbol) as an empty frame."""
        yahoo = self.yahoo
        yahoo.session.statuses.clear()
        try:
            return method(freq=_FREQ[frequency])
        except (ConfigError, SourceBlockedError):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is classified; nothing escapes unnamed
            if "CURRENTLY DOWN" in str(exc):
                raise TransientSourceError(f"{where}: Yahoo Finance says it is down") from None
            failed = any(status >= 400 for status in yahoo.session.statuses)
            if "Empty fundamentals-timeseries result" in str(exc) and not failed:
                import pandas as pd

                return pd.DataFrame()  # answered, nothing in it: no such statement (a fund, a new listing)
            raise yahoo._classify(exc, where) from None


# Days from a period's end to the day the replay serves it: the SEC's filing deadlines for large accelerated
# filers (10-Q: 40 days after the quarter, 10-K: 60 days after the year), the latest a statement appears.
PUBLISHED_AFTER = {"quarterly": 40, "annual": 60}
# Yahoo answers at most this many periods, newest first (yfinance's fundamentals.py).
WINDOW = {"quarterly": 5, "annual": 4}
FILES = {(s, f): f"{s}_{f}.csv" for s in STATEMENTS for f in FREQUENCIES}
HEADER = ["Ticker", "Date", "Metric", "Value"]


class RecordedStatements:
    """Recorded statements (US_FINANCIALS_REPLAY_DIR, the demo's data/sample/us_financials): one long CSV per
    statement and frequency (`income_quarterly.csv`: Ticker,Date,Metric,Value with yfinance's row labels), a
    missing file read as no statements. A run at time T is served, per frame, the newest `WINDOW` periods
    published by T (`PUBLISHED_AFTER`), as Yahoo would have answered then."""

    name = "replay"
    network = False

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ConfigError(f"US_FINANCIALS_REPLAY_DIR={root} is not a folder: point it at recorded statements "
                              "(data/sample/us_financials) or leave it blank to read Yahoo")
        self.root = root
        self._rows: dict[tuple[str, str], dict[str, dict[dt.date, dict[str, float | None]]]] = {}

    def _recorded(self, statement: str, frequency: str) -> dict[str, dict[dt.date, dict[str, float | None]]]:
        """{ticker: {period end: {metric: value}}} of one file (cached)."""
        if (statement, frequency) in self._rows:
            return self._rows[statement, frequency]
        found: dict[str, dict[dt.date, dict[str, float | None]]] = defaultdict(dict)
        path = self.root / FILES[statement, frequency]
        if path.is_file():
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle)
                if (header := next(reader, [])) != HEADER:
                    raise ConfigError(f"{path}: header {header!r} is not {','.join(HEADER)}: fix the file")
                for number, row in enumerate(reader, start=2):
                    try:
                        ticker, day, metric, value = row
                        found[ticker].setdefault(dt.date.fromisoformat(day), {})[metric] = \
                            float(value) if value.strip() else None
                    except ValueError:
                        raise BadDataError(f"{path} line {number}: {row!r} is not ticker,YYYY-MM-DD,metric,number") \
                            from None
        self._rows[statement, frequency] = dict(found)
        return self._rows[statement, frequency]

    def statements(self, query: FinancialsQuery) -> dict[str, Any]:
        """The frames Yahoo would have given at the query's time (see the class docstring)."""
        import pandas as pd

        today = query.now.date()
        frames: dict[str, Any] = {}
        for statement in STATEMENTS:
            for frequency in FREQUENCIES:
                periods = self._recorded(statement, frequency).get(query.ticker, {})
                published = sorted((day for day in periods
                                    if day + dt.timedelta(days=PUBLISHED_AFTER[frequency]) <= today), reverse=True)
                shown = published[: WINDOW[frequency]]
                frame = pd.DataFrame({pd.Timestamp(day): pd.Series(periods[day], dtype="float64") for day in shown})
                frames[frame_key(statement, frequency)] = frame
        return frames
