"""us.financials: the US stocks' quarterly and annual statements (income statement, balance sheet, cash flow) from
Yahoo through yfinance, a revisable series on the watermark cadence (lib/spine/watermark.py).

Which tickers: the active US universe (`storage.scoped("us_").universe`), read in `prepare`; each run reads
US_FINANCIALS_PER_RUN of them, the never-read first (largest first), then the longest unread. A ticker's read
time is stored once its page is (`page_stored`), so a killed run's next run starts with what it did not read.
One page per ticker: its six statement frames (three statements, quarterly and annual) as one answer. Yahoo
answers a rolling window (5 quarters, 4 years) per statement; a period older than the start of any statement's
window is left out of that read (its stored figures stay as they are, never revised to None), so the items are
the periods every answered statement covers. A statement answered empty leaves its fields None in that read.

Each item is one (ticker, frequency, period end): key "<TICKER>:<quarterly|annual>:<YYYY-MM-DD>", `at` the
period's end, the 11 fields of lib/context/items.py FinancialsData (None where Yahoo has none). A period whose
every field is missing (Yahoo lists an empty column for the period before its window) is skipped.

The known-at rule: Yahoo gives no filing date, so a period counts as known from the end of the day
period_end + US_FINANCIALS_LAG_DAYS (45: the SEC's 10-Q deadline is 40 days, the 10-K's 60-90) in New York, or
from the read that first saw it when that is later: a period is never known before we read it. A figure that
changes in a later read is a revision: the stored value becomes a vintage and the new one counts from that
read (the spine's `vintages=False` rule: the source dates nothing, so a changed value is known when read)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from lib.context.items import FinancialsData
from lib.context.read import day_cutoff
from lib.log import get_logger
from lib.markets.us import NEW_YORK
from lib.spine.watermark import Item, Mark, Page, Rejected, WatermarkReader

if TYPE_CHECKING:
    from lib.config import Settings
    from lib.storage import Storage

log = get_logger("us_financials")
DATASET = "us.financials"
FREQUENCIES = ("quarterly", "annual")
STATEMENTS = ("income", "balance", "cashflow")
# yfinance's row labels without spaces (its properties "prettify" them: "Total Revenue"; get_*(pretty=False)
# gives "TotalRevenue") -> our field.
ROWS = {
    "TotalRevenue": "total_revenue", "OperatingIncome": "operating_income", "NetIncome": "net_income",
    "DilutedEPS": "diluted_eps", "EBITDA": "ebitda", "TotalAssets": "total_assets", "TotalDebt": "total_debt",
    "StockholdersEquity": "stockholders_equity", "FreeCashFlow": "free_cash_flow",
    "OperatingCashFlow": "operating_cash_flow", "CapitalExpenditure": "capital_expenditure",
}


def frame_key(statement: str, frequency: str) -> str:
    """The key of one statement frame in a ticker's answer ("income:quarterly")."""
    return f"{statement}:{frequency}"


@dataclass(frozen=True)
class FinancialsQuery:
    """One ticker's statements, read at `now` (aware UTC), in the run that started at `run`."""

    ticker: str  # Yahoo's form ("BRK-B"), as the US universe stores it
    currency: str
    run: dt.datetime
    now: dt.datetime
    last: bool


class StatementsSource(Protocol):
    """Where the statements come from: Yahoo through yfinance, or recorded answers."""

    name: str
    network: bool

    def statements(self, query: FinancialsQuery) -> dict[str, Any]:
        """The ticker's six frames by `frame_key`: rows are line items, columns period-end Timestamps."""
        ...


# --- which tickers ---------------------------------------------------------------------------------------


def tickers_to_read(universe: Sequence[Mapping[str, Any]], read_at: Mapping[str, dt.datetime],
                    per_run: int) -> list[Mapping[str, Any]]:
    """The run's tickers: never read first (in the universe's order, largest first), then the longest unread."""
    never = [doc for doc in universe if doc["ticker"] not in read_at]
    read = sorted((doc for doc in universe if doc["ticker"] in read_at), key=lambda d: read_at[d["ticker"]])
    return [*never, *read][:per_run]


# --- an answer as items ----------------------------------------------------------------------------------


def _number(value: Any) -> float | None | str:
    """A cell as a float, None when missing (NaN, blank), or why it is unusable."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"{value!r} is not a number"
    if math.isnan(number):
        return None
    return number if math.isfinite(number) else f"{value!r} is not a finite number"


def _period(column: Any) -> dt.date | None:
    """A frame column (a pandas Timestamp, a date or an ISO text) as the period's end date."""
    if isinstance(column, dt.datetime):
        return column.date()
    if isinstance(column, dt.date):
        return column
    try:
        return dt.date.fromisoformat(str(column)[:10])
    except ValueError:
        return None


def _cells(frame: Any) -> dict[dt.date | None, dict[str, Any]]:
    """{period end: {row label without spaces: cell}} of one frame; columns that are not dates map to None."""
    cells: dict[dt.date | None, dict[str, Any]] = {}
    if frame is None or getattr(frame, "empty", True):
        return cells
    for column in frame.columns:
        found = cells.setdefault(_period(column), {})
        for label, value in frame[column].items():
            found[str(label).replace(" ", "")] = value
    return cells


def statement_items(ticker: str, currency: str, raw: Mapping[str, Any], now: dt.datetime,
                    lag_days: int) -> tuple[list[Item], list[Rejected]]:
    """The items of one ticker's answer (pure): one per frequency and period end, known per the module's rule."""
    items, rejected = [], []
    for frequency in FREQUENCIES:
        periods: dict[dt.date | None, dict[str, Any]] = {}
        oldest: list[dt.date] = []  # each non-empty frame's oldest period: where its window starts
        for statement in STATEMENTS:
            frame = _cells(raw.get(frame_key(statement, frequency)))
            if dates := [period for period in frame if period is not None]:
                oldest.append(min(dates))
            for period, cells in frame.items():
                periods.setdefault(period, {}).update(cells)
        window = max(oldest, default=dt.date.min)
        for period, cells in sorted(periods.items(), key=lambda pair: pair[0] or dt.date.min):
            if period is None:
                rejected.append(Rejected(f"a {frequency} column is not a period-end date", sorted(cells), ticker))
                continue
            if period < window:
                continue  # out of another statement's window: its figures there are unknown, not None
            key = f"{ticker}:{frequency}:{period.isoformat()}"
            fields: dict[str, float | None] = {}
            problem = None
            for row, name in ROWS.items():
                value = _number(cells.get(row))
                if isinstance(value, str):
                    problem = problem or f"{row}: {value}"
                    value = None
                fields[name] = value
            if problem:
                rejected.append(Rejected(problem, {k: repr(v) for k, v in cells.items() if k in ROWS}, key))
                continue
            if all(value is None for value in fields.values()):
                continue  # Yahoo's empty column for the period before its window
            data = FinancialsData(ticker=ticker, frequency=frequency, period_end=period.isoformat(),
                                  currency=currency, source="yfinance", **fields)  # type: ignore[typeddict-item]
            known = max(day_cutoff(period + dt.timedelta(days=lag_days), NEW_YORK), now)
            items.append(Item(key, dt.datetime.combine(period, dt.time(0), tzinfo=dt.UTC), dict(data), known))
    return items, rejected


# --- the reader ------------------------------------------------------------------------------------------


class UsFinancialsReader(WatermarkReader):
    """us.financials on the watermark cadence: one page per ticker (see the module docstring)."""

    name = "yahoo_financials"
    vintages = False  # Yahoo dates no value: a changed figure counts from the read that saw it

    def __init__(self, source: StatementsSource, lag_days: int, per_run: int,
                 universe: Callable[[Storage], list[dict[str, Any]]], min_gap_seconds: float = 0.0,
                 max_attempts: int = 3, backoff_seconds: float = 5.0) -> None:
        self.source = source
        self.name = source.name
        self.network = source.network
        self.lag_days = lag_days
        self.per_run = per_run
        self._universe = universe
        self.min_gap_seconds = min_gap_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.batch: list[Mapping[str, Any]] = []
        self.run: dt.datetime | None = None

    def prepare(self, storage: Storage, now: dt.datetime) -> None:
        """The run's tickers: the active universe, the never-read and longest-unread first."""
        self.run = now.astimezone(dt.UTC)
        universe = self._universe(storage)
        self.batch = tickers_to_read(universe, storage.watermarks.read_times(DATASET), self.per_run)
        self.max_pages = max(1, len(self.batch))
        if not universe:
            log.info("%s: no active US universe stored (us_stocks_update.py --setup builds it): nothing to read",
                     DATASET)

    def build_query(self, mark: Mark, now: dt.datetime) -> FinancialsQuery:
        """The batch's ticker after the one this run stored last, or its first."""
        now = now.astimezone(dt.UTC)
        run = self.run or now
        if not self.batch:
            return FinancialsQuery("", "", run, now, True)
        tickers = [doc["ticker"] for doc in self.batch]
        started, _, last = (mark.cursor or "").partition("|")
        index = tickers.index(last) + 1 if started == run.isoformat() and last in tickers else 0
        index = min(index, len(tickers) - 1)
        doc = self.batch[index]
        currency = doc.get("financial_currency") or doc.get("currency") or "USD"
        return FinancialsQuery(doc["ticker"], str(currency), run, now, index == len(tickers) - 1)

    def fetch_raw(self, query: FinancialsQuery) -> Any:
        """The ticker's six statement frames."""
        return self.source.statements(query) if query.ticker else {}

    def normalise(self, raw: Any, query: FinancialsQuery) -> Page:
        """One item per (frequency, period end); the watermark reads through the run's start after the last."""
        if not query.ticker:
            return Page((), Mark(), more=False)  # nothing to read: the watermark keeps its time (and staleness)
        if not isinstance(raw, Mapping):
            items: list[Item] = []
            rejected = [Rejected(f"the answer is a {type(raw).__name__}, not the statement frames", repr(raw)[:200],
                                 query.ticker)]
        else:
            items, rejected = statement_items(query.ticker, query.currency, raw, query.now, self.lag_days)
        mark = Mark(query.run, None) if query.last else Mark(None, f"{query.run.isoformat()}|{query.ticker}")
        return Page(tuple(items), mark, more=not query.last, rejected=tuple(rejected))

    def validate(self, item: Item) -> str | None:
        """Refuse a period end in the future of the read or before 1900, and a negative total of assets."""
        if item.at.year < 1900 or item.at > (self.run or item.at) + dt.timedelta(days=1):
            return f"period end {item.at.date()} is impossible for a statement read at {self.run}"
        assets = item.data.get("total_assets")
        if assets is not None and assets < 0:
            return f"total assets {assets} is negative"
        return None

    def page_stored(self, storage: Storage, query: FinancialsQuery, page: Page, now: dt.datetime) -> None:
        """Record the ticker's read time once its page is stored (the next run's order)."""
        if query.ticker:
            storage.watermarks.save_read_time(DATASET, query.ticker, now)


def active_universe(storage: Storage) -> list[dict[str, Any]]:
    """The active US stocks, largest first (the universe contract: system_info.target_tickers, "us_" scope)."""
    return storage.scoped("us_").universe.universe(active_only=True)


def financials_reader(settings: Settings) -> UsFinancialsReader:
    """us.financials's reader: Yahoo through yfinance, or the recorded statements of US_FINANCIALS_REPLAY_DIR."""
    from lib.markets.us.financials_sources import RecordedStatements, YahooStatements
    from lib.markets.us.settings import us_settings

    us = us_settings(settings)
    source: StatementsSource
    if us.financials_replay_dir is not None:
        source = RecordedStatements(us.financials_replay_dir)
    else:
        source = YahooStatements(us.request_timeout_seconds, us.rate_limit_backoff_seconds, us.yfinance_http,
                                 us.yfinance_cache_dir)
    return UsFinancialsReader(source, us.financials_lag_days, us.financials_per_run, active_universe,
                              us.min_request_gap_seconds, us.max_attempts, us.retry_backoff_seconds)
