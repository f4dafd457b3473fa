"""How a market plugs into the collection spine: one `Market` object, built from the settings.

The spine is generic: the calendar (lib/spine/calendar.py), the source interface and chain (lib/spine/chain.py),
the per-day job_status catch-up (lib/spine/catchup.py), run records and locks (lib/spine/runner.py) and the
scripts' run_script (lib/cli.py). A market supplies:

- `name` (KRX) for messages, `job` (daily_update): its day records are `<YYYY-MM-DD>_<job>` in
  system_info.job_status and its catch-up script is `<job>.py`, `lock` (stock_data_collection): the lock its
  collection runs under, `setup_command`: what to run before the first catch-up;
- `calendar`: a TradingCalendar of its exchange (XKRX, XNYS) with the overrides of its settings;
- `chain`: a SourceChain over its configured sources (each implementing lib/spine/chain.Source);
- `collector`: a `Collector`, the only market-specific code of the catch-up, which
  - `parts`: names what a day is made of (("KOSPI", "KOSDAQ"), or the ETF tickers);
  - `fetch(chain, wanted, now)`: asks the chain for the wanted parts of a batch of days (a calendar month by
    default: `batch_of`, oldest first) in the units its sources answer best (one request per market per day for
    KRX, one request per ticker over the whole batch for a source that answers date ranges), yielding one `Fetched` per
    (day, part) as answers come;
  - `store(ctx, days)`: writes what the days delivered (bars, the universe, derived stages) before the spine
    writes their day records, so a day recorded completed is wholly stored;
  - `digest(part, data)`: optionally, a digest of an answer: an answer equal to a neighbouring session's is
    refused as stale (served before the day was published);
  - `rows(data)`: how many rows an answer holds, for the day record.

lib/markets/krx/market.py is the KRX market; a second market is a second module like it, never a second copy of the
machinery."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lib.spine.calendar import TradingCalendar
from lib.spine.chain import DayUnavailable, Delivery, SourceChain

if TYPE_CHECKING:
    from lib.spine.runner import JobContext


@dataclass(frozen=True)
class Fetched:
    """What the chain gave for one part of one day: a delivery, or why no source delivered it."""

    day: dt.date
    part: str
    delivery: Delivery | None = None
    problem: DayUnavailable | None = None


@dataclass
class DayFetch:
    """One day of a batch: the parts delivered in this run, those stored by an earlier run (a half-delivered
    day), those no source delivered (and why), and those no configured source can ever serve."""

    day: dt.date
    delivered: dict[str, Delivery] = field(default_factory=dict)
    missing: dict[str, DayUnavailable] = field(default_factory=dict)
    out_of_range: dict[str, DayUnavailable] = field(default_factory=dict)
    stored_before: dict[str, str] = field(default_factory=dict)  # part -> the source that delivered it
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every part is stored (now or before) or outside every source's range, and something is stored."""
        return not self.missing and bool(self.delivered or self.stored_before)

    @property
    def sources(self) -> dict[str, str]:
        """The source of every stored part of the day."""
        return {**self.stored_before, **{part: d.source for part, d in self.delivered.items()}}


class Collector(ABC):
    """The market-specific part of the catch-up (see the module docstring)."""

    parts: tuple[str, ...]
    counters: tuple[str, ...] = ()  # the run counters `store` adds to, started at 0

    @abstractmethod
    def fetch(
        self, chain: SourceChain, wanted: Mapping[dt.date, Sequence[str]], now: dt.datetime
    ) -> Iterator[Fetched]:
        """Ask the chain for the wanted parts of these days; one Fetched per (day, part)."""

    @abstractmethod
    def store(self, ctx: JobContext, days: Sequence[DayFetch]) -> None:
        """Write what these days delivered, before their day records are written; counters into ctx.counters."""

    def digest(self, part: str, data: Any) -> str | None:
        """A digest of an answer to catch a stale one repeating a neighbouring session; None: no check."""
        return None

    def rows(self, data: Any) -> int:
        """How many rows an answer holds."""
        return len(data)

    def batch_of(self, day: dt.date) -> tuple[int, ...]:
        """Which batch of pending days a day is collected in (consecutive days with one key go together): a
        calendar month by default, so a long catch-up stores and records its progress month by month; a collector
        whose source answers long date ranges in one request per ticker (yf.download) takes larger batches."""
        return (day.year, day.month)


@dataclass
class Market:
    """A market plugged into the spine: its names, calendar, source chain and collector."""

    name: str
    job: str
    lock: str
    calendar: TradingCalendar
    chain: SourceChain
    collector: Collector
    setup_command: str  # what a person runs before the first catch-up ("manual_setup.py")
    trading_day: str = ""  # how people call one of its sessions ("a New York Stock Exchange trading day")

    @property
    def a_session(self) -> str:
        """One of its sessions in words, for messages."""
        return self.trading_day or f"a {self.name} trading day"
