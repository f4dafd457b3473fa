"""The batch a run of the US ETF stages shares (lib/markets/us/pipeline.py): the plan from the settings, the
sessions of the batch, what each stage leaves for the next; and what several stages use: the fetch window,
the bars' stale marks before a write, rejected records, stock closes on XNYS dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lib.config import Settings
from lib.log import get_logger
from lib.markets.us.etf.restated import stale_marks
from lib.markets.us.etf.universe import ETF_JOB, PERIODS, EtfSpec, etf_specs
from lib.markets.us.settings import us_settings
from lib.markets.us.sources import Rejected, Validated, is_foreign_listing
from lib.spine.calendar import TradingCalendar
from lib.spine.chain import DayUnavailable, Delivery, Request, SourceChain
from lib.spine.runner import JobContext

log = get_logger("etf")

LOOKBACK_SESSIONS = max(PERIODS) + 5  # a 20-session return, and the start close of a portfolio still running
FOREIGN_STALENESS = dt.timedelta(days=7)  # a foreign listing's last close stands for a US session this long


@dataclass(frozen=True)
class EtfPlan:
    """What the pipeline follows, from the settings."""

    specs: tuple[EtfSpec, ...]
    benchmark: str
    top_n: int
    refresh_days: int
    stale_days: int = 92  # a snapshot known on the day but older than this marks the portfolio stale

    @classmethod
    def from_settings(cls, settings: Settings) -> EtfPlan:
        """The plan the settings describe."""
        us = us_settings(settings)
        specs = etf_specs(us.benchmark_etfs, us.sector_etfs)
        return cls(tuple(specs), us.benchmark, us.top_holdings, us.holdings_refresh_days, us.holdings_stale_days)

    @property
    def tickers(self) -> list[str]:
        """Every followed ETF."""
        return [s.ticker for s in self.specs]

    @property
    def by_ticker(self) -> dict[str, EtfSpec]:
        """The specs by ticker."""
        return {s.ticker: s for s in self.specs}


@dataclass
class Batch:
    """One run of the five stages over consecutive sessions."""

    ctx: JobContext
    calendar: TradingCalendar
    chain: SourceChain
    plan: EtfPlan
    window: list[dt.date]
    days: list[dt.date]  # the sessions that get stages 3-5 (every ETF delivered them)
    last_computed: dt.date | None = None  # the latest session whose stages were stored before this batch
    recompute: bool = False  # computing stored sessions again from stored data (lib/markets/us/recompute.py)
    rejected: list[Rejected] = field(default_factory=list)
    trending: dict[dt.date, dict[int, list[str]]] = field(default_factory=dict)
    trend_rows: dict[dt.date, dict[tuple[int, str], dict]] = field(default_factory=dict)  # (period, etf) -> row
    holdings: dict[str, dict[str, list[dict]]] = field(default_factory=dict)  # etf -> collected date -> rows
    stock_closes: dict[str, dict[dt.date, float]] = field(default_factory=dict)

    @property
    def storage(self) -> Any:
        """The run's storage."""
        return self.ctx.storage

    def fetch(self, request: Request) -> Delivery:
        """A request through the chain; its rejected records are kept for storage."""
        delivery = self.chain.fetch(request, self.ctx.as_of)
        validated: Validated = delivery.data
        self.rejected.extend(validated.rejected)
        return delivery


def sessions_after(calendar: TradingCalendar, day: dt.date, count: int) -> list[dt.date]:
    """The `count` sessions after `day` (fewer past the calendar's end)."""
    end = min(day + dt.timedelta(days=2 * count + 14), calendar.last)
    return calendar.sessions_between(day + dt.timedelta(days=1), end)[:count]


def fetch_window(calendar: TradingCalendar, days: Sequence[dt.date]) -> list[dt.date]:
    """The sessions a batch fetches: the lookback a 20-session return needs, one more (fetched, not stored, so
    every stored bar's day change has its previous close whichever session a batch starts from), the batch."""
    before = calendar.last_sessions(days[0], LOOKBACK_SESSIONS + 2)[:-1]
    return [*before, *calendar.sessions_between(days[0], days[-1])]


def _definitive(exc: DayUnavailable) -> bool:
    """Asking again now would not change the answer: no source failed transiently, refused us or is late."""
    return not exc.outcomes & {"transient", "blocked", "not_published"}


def _aligned(closes: dict[dt.date, float], sessions: Sequence[dt.date], foreign: bool) -> dict[dt.date, float]:
    """A foreign listing's closes on XNYS dates: its last close on or before each session (within a week); a
    US listing's closes as stored (a missing day stays missing)."""
    if not foreign:
        return closes
    known = sorted(closes)
    out: dict[dt.date, float] = {}
    i = -1
    for day in sessions:
        while i + 1 < len(known) and known[i + 1] <= day:
            i += 1
        if i >= 0 and day - known[i] <= FOREIGN_STALENESS:
            out[day] = closes[known[i]]
    return out


def _store_rejected(batch: Batch) -> None:
    if batch.rejected:
        records = [
            {"dataset": r.dataset, "kind": r.kind, "source": r.source, "ticker": r.ticker, "date": r.date, "raw": r.raw,
             "reason": r.reason, "job": batch.ctx.job_name, **({"where": r.where} if r.where else {})}
            for r in batch.rejected
        ]
        new = batch.storage.bad_data.record_rejected(records, batch.ctx.clock())
        for r in batch.rejected[:5]:
            log.warning("rejected %s %s %s from %s%s: %s", r.kind, r.ticker, r.date or "(no date)", r.source,
                        f" ({r.where})" if r.where else "", r.reason)
        batch.ctx.counters["rejected"] = batch.ctx.counters.get("rejected", 0) + new
        batch.rejected.clear()


def _mark_stale(batch: Batch, kind: str, writes: list, latest: dict[str, dt.date]) -> None:
    """Before bars are written: remember those that change rows already computed, so a kill after the write
    still leaves them to be computed again."""
    marks = stale_marks(writes, latest, batch.last_computed)
    if marks:
        batch.storage.etf.mark_recompute((kind, ticker, day, why) for ticker, day, why in marks)


def last_computed(storage: Any) -> dt.date | None:
    """The latest session whose five stages are stored."""
    return max(storage.jobs.done_days(ETF_JOB, ("completed",)), default=None)


def _bar_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("open", "high", "low", "close", "volume", "dividends", "splits")}


def _stock_closes(
    storage: Any, calendar: TradingCalendar, tickers: Iterable[str], start: dt.date, end: dt.date
) -> dict[str, dict[dt.date, float]]:
    """Stored stock closes on XNYS dates (a foreign listing's aligned), from start to end."""
    sessions = calendar.sessions_between(start, end)
    raw = storage.etf.stock_closes(tickers, start - FOREIGN_STALENESS, end)
    return {t: _aligned(c, sessions, is_foreign_listing(t)) for t, c in raw.items()}
