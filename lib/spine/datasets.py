"""The registry of datasets: a dataset is a market and a kind of data (KRX bars, US ETF bars, later news,
disclosures, macro series), registered once by its market's package (lib/markets/<market>/). Everything that
lists, labels, schedules or checks data derives from here: status (check_db), `/health`, `/status`, alerts,
the CLI, cleanup, the crontab documentation. Nothing outside a market's own package names that market.

Two cadences share one spine (locks, run records, alerts, crash safety):
- `session`: one record per exchange session, caught up after any outage (lib/spine/catchup.py);
- `watermark`: event streams and revisable series: how far the dataset has read (a time or a cursor), resumed
  after any outage, each item stored once on its natural key, revisions kept as vintages (lib/spine/watermark.py).
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from lib.config import Settings
    from lib.spine.calendar import TradingCalendar

Cadence = Literal["session", "watermark"]


def lazy(module: str, name: str) -> Callable[..., Any]:
    """A function that imports `module` only when called and calls its `name` with the same arguments: how a
    market's DATASETS name their builders and status without importing the market's code (reading the registry
    stays light: no pandas, no market module)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__qualname__ = call.__name__ = f"{module}.{name}"
    return call


@dataclass(frozen=True)
class Subscriber:
    """A derived job that reads a dataset (KRX's analysis): status shows its state next to the dataset's,
    alerts say when it falls behind, `/health` checks it has finished the dataset's last collected day."""

    job: str  # its run records' job_name: "hourly_analysis"
    # (storage scoped to the dataset's namespace, calendar, last collected day, STALE_AFTER_SESSIONS, job=the
    # dataset's job, market=its market, runs=this subscriber's job; lib/ops/status.subscriber_state) -> its state, a
    # dataclass with `stale`, `heading`, `job_name`, `rows()`, `attention()` and `alert(last_day)`
    # (lib/analysis/status.py); lazy, imported on use
    status: Callable[..., Any] | None = None
    done_through: Callable[[Any], dt.date | None] | None = None  # storage -> the newest day it has finished
    busy_hours: tuple[int, int] | None = None  # (from, to) local hours while it works on the last day: not stale
    screens: bool = False  # its days are the ones the screener's strategies pick from (ALERT_STRATEGIES)


@dataclass(frozen=True)
class Dataset:
    """One market's kind of data, with everything the spine and the operations tools need to know about it."""

    market: str  # the market package that registers it: "krx", "us"; its MARKETS name
    kind: str  # "bars", "etf_bars", "news", ...: unique within the market
    label: str  # for people: "KRX (KOSPI, KOSDAQ)"
    cadence: Cadence
    job: str  # the job that keeps it: its run records' job_name, its day records' suffix, its script `<job>.py`
    lock: str  # the lock its collection runs under (datasets of one source may share one)
    tz: ZoneInfo  # the exchange's (or the source's) time zone: what "today" means for its runs
    setup: str  # what a person runs before anything is collected: "run `python manual_setup.py`"
    redo: str = ""  # session cadence: how to collect a day again: "run `python daily_update.py --redo {day}`"
    closed_setting: str = ""  # session cadence: the setting that adds closures to its calendar
    collectors: tuple[str, ...] = ()  # the jobs that collect it: a later completed one heals another's failure
    calendar: Callable[[Settings], TradingCalendar] | None = None  # session cadence: its exchange calendar
    build: Callable[..., Any] | None = None  # session: settings -> lib.spine.market.Market; watermark: its feed
    subscribers: tuple[Subscriber, ...] = ()  # the derived jobs that read it (analysis, picks)
    stale_after: dt.timedelta | None = None  # watermark cadence: a lag longer than this needs a person
    schedule: str = ""  # when cron runs its job, for the crontab's documentation: "19:00 KST Mon-Fri"
    quarantines: bool = False  # its bars pass a price-limit check that holds bad ones in system_info.bad_data
    source_help: str = ""  # where a refused source's credentials are set: "for KRX: KRX_OPENAPI_KEY, KRX_ID/KRX_PW"
    # settings -> why the dataset is off on this install ("DART_API_KEY is blank"), None when it runs: an off
    # dataset's script logs one INFO line and exits 0, check_db shows it "off" and nothing alerts about it
    off: Callable[[Settings], str | None] | None = None
    # watermark cadence: the core setting holding how many days of items cleanup keeps ("RETENTION_NEWS_DAYS")
    retention_setting: str = ""
    # session cadence: the prefix of the market's own collections (Storage.scoped): "" for the first market
    # registered with bars (stock_data, stock_analyzed, system_info.*), "us_" for US stocks (us_stock_data, ...)
    namespace: str = ""
    currency: str = ""  # the currency of its prices ("KRW", "USD"), stated in every answer that shows one
    # session cadence: several hosts may run its collection at once, sharing the work through leases in MongoDB
    # (lib/spine/leases.py): its lock is then per host, not one for the whole install
    workers: bool = False

    @property
    def key(self) -> str:
        """`market.kind`, unique in the registry."""
        return f"{self.market}.{self.kind}"

    def no_data_hint(self, day: dt.date | str) -> str:
        """What to do about a session recorded without data: a closure goes into the calendar, a trading day is
        collected again."""
        return f"if the market was closed, add it to {self.closed_setting}; if it traded, {self.redo.format(day=day)}"


@dataclass(frozen=True)
class Registry:
    """Every registered dataset, in registration order; read-only once built."""

    datasets: tuple[Dataset, ...] = ()
    errors: tuple[tuple[str, str], ...] = field(default=())  # (module, why it was skipped)

    def __post_init__(self) -> None:
        keys = [d.key for d in self.datasets]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"dataset {dupes[0]} is registered twice")

    def __iter__(self) -> Iterator[Dataset]:
        return iter(self.datasets)

    def __len__(self) -> int:
        return len(self.datasets)

    def get(self, key: str) -> Dataset:
        """The dataset `market.kind`; KeyError names the known ones."""
        for dataset in self.datasets:
            if dataset.key == key:
                return dataset
        raise KeyError(f"no dataset {key!r}; known: {', '.join(d.key for d in self.datasets)}")

    def of_job(self, job: str) -> Dataset | None:
        """The dataset whose records the job keeps, if any."""
        return next((d for d in self.datasets if d.job == job), None)

    def of_collector(self, job: str) -> Dataset | None:
        """The dataset a job collects (its own job, or one of its collectors such as a setup job), if any."""
        return next((d for d in self.datasets if job == d.job or job in d.collectors), None)

    def screened(self, market: str | None = None) -> Dataset | None:
        """The dataset the screener's strategies pick from (its analysis subscriber screens), if any: the first
        registered, or `market`'s."""
        return next((d for d in self.screened_all() if market is None or d.market == market), None)

    def screened_all(self) -> tuple[Dataset, ...]:
        """Every dataset the screener's strategies pick from, one per market with stocks, in registration order."""
        return tuple(d for d in self.datasets if any(s.screens for s in d.subscribers))

    def quarantining(self) -> Dataset | None:
        """The first dataset whose refused bars its market's bad_data collection holds, if any."""
        return next(iter(self.quarantining_all()), None)

    def quarantining_all(self) -> tuple[Dataset, ...]:
        """Every dataset whose impossible bars are held in its market's bad_data collection."""
        return tuple(d for d in self.datasets if d.quarantines)

    def of_market(self, market: str) -> tuple[Dataset, ...]:
        """The datasets a market registers."""
        return tuple(d for d in self.datasets if d.market == market)

    def markets(self) -> tuple[str, ...]:
        """The registered markets, in registration order."""
        return tuple(dict.fromkeys(d.market for d in self.datasets))

    def with_cadence(self, cadence: Cadence) -> tuple[Dataset, ...]:
        """The datasets of one cadence."""
        return tuple(d for d in self.datasets if d.cadence == cadence)


def registry_of(datasets: Iterable[Dataset], errors: Iterable[tuple[str, str]] = ()) -> Registry:
    """A registry over these datasets (duplicates refused)."""
    return Registry(tuple(datasets), tuple(errors))


@dataclass(frozen=True)
class WatermarkState:
    """How far a watermark dataset has read, as status, `/health` and alerts show it."""

    dataset: str  # its key
    label: str
    read_through: dt.datetime | None  # naive UTC: the newest item time (or read time) the watermark stands at
    cursor: str | None  # the source's own cursor, when it has one
    items: int  # items stored (each once, on its natural key)
    revisions: int  # earlier vintages kept
    lag: dt.timedelta | None  # now - read_through; None before the first read
    stale: bool  # lag over the dataset's stale_after, or nothing read yet
    last_error: str | None = None  # the last run's failure, if it failed
    off: str | None = None  # why it is off on this install (its key blank): never stale, never alerted
    setup: str = ""  # what starts it when nothing is read yet: "run `python collect.py krx.news`"
