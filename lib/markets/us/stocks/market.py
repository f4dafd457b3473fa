"""The US stocks on the collection spine (us.stocks): daily bars of the active universe on XNYS, fetched in
batches of US_STOCKS_BATCH_SIZE tickers per `yf.download`, shared by several workers through leases.

For each month of pending sessions the spine hands `fetch`, the collector plans the universe's ticker batches
under a scope named after the dataset, the sessions and the run's New York date (`lib/spine/leases.py`: the first
worker to plan wins, the others work through the same batches). Each worker claims a batch, downloads it over the
sessions' span through the source chain (paced, retried), screens it for impossible bars
(lib/markets/us/stocks/quarantine.py) and stores it in us_stock_data, then completes the batch. When every batch
is done, whoever did it, each session is yielded as delivered with the number of bars stored for it (read back
from the store, so it counts every worker's bars); a session no ticker has a bar for is an empty answer, which
the spine treats as KRX's (a closure the calendar does not know, or no data after the grace period). So a day
is recorded completed only when every batch is stored. A batch the sources fail stops the run at its sessions
(recorded failed, asked again by the next run), its lease left to expire for another worker to take over.

`store` writes nothing: the bars are stored batch by batch while fetching (a worker may store batches for days
another worker records), and the universe is refreshed from NASDAQ Trader's files before collecting
(lib/markets/us/stocks/universe.py), not from the bars."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lib.config import Settings
from lib.errors import ConfigError, TransientSourceError
from lib.log import get_logger
from lib.markets.us.market import build_us_chain, us_calendar
from lib.markets.us.settings import us_settings
from lib.markets.us.stocks.quarantine import DATASET, screen_bars
from lib.markets.us.stocks.sources import StockBars, StocksRequest, StocksSource
from lib.settings_base import project_path
from lib.spine.calendar import TradingCalendar
from lib.spine.chain import Attempt, DayUnavailable, Delivery, Request, SourceChain
from lib.spine.market import Collector, DayFetch, Fetched, Market
from lib.spine.quarantine import prior_closes

if TYPE_CHECKING:
    from lib.spine.leases import Batch
    from lib.spine.runner import JobContext

log = get_logger("us_stocks")

JOB = "us_stocks_update"  # as registered in lib/markets/us/__init__.py (us.stocks)
LOCK = "us_stocks"
PART = "stocks"
WAIT_LEASES = 3  # lease times a worker waits for other workers' batches to progress before the run gives up


class BatchFailed(Exception):
    """The sources failed a batch: the run stops at its sessions (the lease is left to expire)."""

    def __init__(self, problem: DayUnavailable) -> None:
        super().__init__(str(problem))
        self.problem = problem


def build_stocks_sources(settings: Settings) -> list[StocksSource]:
    """The configured US stocks' bars sources in order (US_STOCKS_SOURCES)."""
    us = us_settings(settings)
    sources: list[StocksSource] = []
    for name in us.stocks_sources:
        if name == "yfinance":
            from lib.markets.us.stocks.yfinance_bars import YFinanceStocksSource

            calendar = us_calendar(settings)
            sources.append(YFinanceStocksSource(
                us.request_timeout_seconds, dt.timedelta(minutes=us.publish_delay_minutes), calendar.close_at,
                us.rate_limit_backoff_seconds, http=us.yfinance_http, cache_dir=us.yfinance_cache_dir,
            ))
        elif name == "replay":
            from lib.markets.us.stocks.replay import StocksReplaySource

            assert us.stocks_replay_dir is not None  # the settings require it
            sources.append(StocksReplaySource(project_path(us.stocks_replay_dir)))
    return sources


def batches_of(tickers: Sequence[str], size: int) -> dict[str, list[str]]:
    """The tickers (largest first) cut into named batches of `size`: {"0001": [...], ...}."""
    return {f"{i // size + 1:04d}": list(tickers[i:i + size]) for i in range(0, len(tickers), size)}


class StocksCollector(Collector):
    """The active universe's daily bars, batch by batch under leases (see the module docstring)."""

    parts = (PART,)
    counters = ("bars_written", "quarantined", "batches_done", "batches_taken_over")

    def __init__(self, calendar: TradingCalendar, settings: Settings, sleep: Callable[[float], None] = time.sleep):
        us = us_settings(settings)
        self.calendar = calendar
        self.batch_size = us.stocks_batch_size
        self.ttl = dt.timedelta(seconds=us.stocks_lease_seconds)
        self.worker_id = us.worker_id
        self.sleep = sleep
        self.ctx: JobContext | None = None
        self.fresh = False
        self.sources_used: set[str] = set()

    def batch_of(self, day: dt.date) -> tuple[int, ...]:
        """A calendar year of pending sessions per batch: one yf.download per ticker batch answers a year as
        cheaply as a month, so a 300-session setup costs 2 requests per ticker instead of 15."""
        return (day.year,)

    def attach(self, ctx: JobContext, fresh: bool = False) -> None:
        """The run the collector stores for; `fresh` (--redo): plan batches of this run's own, never reusing a
        plan finished earlier for the same sessions."""
        self.ctx, self.fresh = ctx, fresh

    def _context(self) -> JobContext:
        if self.ctx is None:
            raise RuntimeError("StocksCollector.attach(ctx) must be called before collecting")
        return self.ctx

    def scope(self, days: Sequence[dt.date], kind: str = "days") -> str:
        """The leases' scope of these sessions: the dataset, the span and the run's New York date (two workers
        started the same evening share it), and a run of its own for --redo's sessions."""
        ctx = self._context()
        scope = f"{DATASET}|{kind}|{days[0]}..{days[-1]}|{self.calendar.local_date(ctx.as_of)}"
        return f"{scope}|redo {ctx.run_id}" if self.fresh and kind == "days" else scope

    def fetch(
        self, chain: SourceChain, wanted: Mapping[dt.date, Sequence[str]], now: dt.datetime
    ) -> Iterator[Fetched]:
        """Every batch of the universe over these sessions stored (by this worker or another), then each session
        with the number of bars stored for it."""
        ctx = self._context()
        days = sorted(wanted)
        tickers = [doc["ticker"] for doc in ctx.storage.universe.universe(active_only=True)]
        if not tickers:
            raise ConfigError("the US universe (us_system_info.target_tickers) has no active ticker: run "
                              "`python us_stocks_update.py --setup`, which reads it first")
        try:
            self.share(chain, self.scope(days), tickers, days, now, keep=set(days))
        except BatchFailed as failed:
            for day in days:
                yield Fetched(day, PART, problem=failed.problem)
            return
        counts = ctx.storage.bars.count_per_day(tickers, days)
        source = sorted(self.sources_used)[0] if self.sources_used else chain.sources[0].name
        network = next((s.network for s in chain.sources if s.name == source), True)
        for day in days:
            if counts.get(day):
                yield Fetched(day, PART, delivery=Delivery(source, counts[day]))
            else:
                attempt = Attempt(source, "empty", f"no bar of the {len(tickers)} active tickers for {day}", network)
                yield Fetched(day, PART, problem=DayUnavailable(Request(PART, (day,)), [attempt]))

    def share(
        self, chain: SourceChain, scope: str, tickers: Sequence[str], days: Sequence[dt.date], now: dt.datetime,
        keep: set[dt.date] | None = None,
    ) -> None:
        """Plan the tickers' batches under `scope` and work through them with the other workers; returns when every
        batch is done. The bars of the sessions from days[0] to days[-1] are stored (only those in `keep` when
        given)."""
        from lib.spine.leases import Leases, default_holder, work_through

        ctx = self._context()
        leases = Leases(ctx.storage, default_holder(self.worker_id), self.ttl, ctx.clock)
        leases.plan(scope, batches_of(tickers, self.batch_size))
        span = tuple(self.calendar.sessions_between(days[0], days[-1]))

        def work(batch: Batch, still_mine: Callable[[], bool]) -> None:
            request = StocksRequest(f"batch {batch.name}", span, tickers=batch.items)
            try:
                delivery = chain.fetch(request, now)
            except DayUnavailable as exc:
                if exc.all_empty or exc.out_of_range:
                    return  # none of these tickers has a bar in the span: nothing to store
                raise BatchFailed(exc) from None
            if still_mine():  # a batch taken over meanwhile is the other worker's to store
                self.sources_used.add(delivery.source)
                self.store_batch(ctx, delivery.data, delivery.source, keep)

        progress = {"left": -1, "since": ctx.clock()}

        def pause(seconds: float) -> None:
            """Wait for batches other workers hold; give up when none of them was done for WAIT_LEASES lease times
            (a worker that renews without finishing, or a clock far ahead): the next run continues."""
            left, now = leases.remaining(scope), ctx.clock()
            if left != progress["left"]:
                progress.update(left=left, since=now)
            elif now - progress["since"] > WAIT_LEASES * self.ttl:
                raise TransientSourceError(f"{scope}: {left} batch(es) held by other workers made no progress for "
                                           f"{now - progress['since']} ({leases.held(scope)}); the next run continues")
            ctx.pulse()  # waiting keeps this run's lock
            self.sleep(seconds)

        # No deadline of its own: this worker's own batches may take long; the pause above judges the others'.
        summary = work_through(leases, scope, work, poll_seconds=min(30.0, self.ttl.total_seconds() / 4),
                               deadline=None, sleep=pause)
        ctx.counters["batches_done"] = ctx.counters.get("batches_done", 0) + summary.done
        ctx.counters["batches_taken_over"] = ctx.counters.get("batches_taken_over", 0) + summary.taken_over
        log.info("%s: %d batch(es) done by this worker (%d taken over)%s", scope, summary.done, summary.taken_over,
                 ", after waiting for other workers" if summary.waited else "")

    def store_batch(self, ctx: JobContext, answer: StockBars, source: str, keep: set[dt.date] | None) -> None:
        """A batch's bars screened (impossible ones held in bad_data), the rest upserted by date."""
        bars = {t: f.loc[f["date"].isin(keep)] if keep is not None else f for t, f in answer.bars.items()}
        bars = {t: f for t, f in bars.items() if not f.empty}
        if not bars:
            return
        storage = ctx.storage
        first = min(f["date"].iloc[0] for f in bars.values())
        last = max(f["date"].iloc[-1] for f in bars.values())
        stored = storage.bars.bars_around(list(bars), first, last)
        prior = prior_closes(storage.bars.last_closes_before(list(bars), first, recent=stored),
                             storage.bad_data.last_quarantined_before(first))
        screened = screen_bars(bars, prior, set(self.calendar.sessions_between(first, last)), source)
        for note in screened.confirmed:
            log.warning("%s", note)
        for item in screened.held[:20]:
            log.warning("QUARANTINED %s %s: %s; not stored (held in us_system_info.bad_data); once the source is "
                        "fixed, `us_stocks_update.py --redo %s` stores it", item.ticker, item.day, item.reason,
                        item.day)
        if len(screened.held) > 20:
            log.warning("... and %d more quarantined bar(s)", len(screened.held) - 20)
        storage.bad_data.quarantine_bars((vars(item) for item in screened.held), ctx.clock(), DATASET)
        ctx.counters["quarantined"] = ctx.counters.get("quarantined", 0) + len(screened.held)
        written = storage.bars.upsert_bars(screened.kept, stored)
        storage.bad_data.clear_quarantine(screened.kept)
        ctx.counters["bars_written"] = ctx.counters.get("bars_written", 0) + written

    def store(self, ctx: JobContext, days: Sequence[DayFetch]) -> None:
        """Nothing left to write: every batch was stored while fetching (see the module docstring)."""

    def rows(self, data: Any) -> int:
        """A delivered session's data is the number of bars stored for it."""
        return int(data)


def us_stocks_market(settings: Settings, chain: SourceChain | None = None, **chain_overrides: Any) -> Market:
    """The US stocks market with the configured sources (or `chain`), XNYS and the batch collector."""
    calendar = us_calendar(settings)
    if chain is None:
        chain = build_us_chain(settings, build_stocks_sources(settings), **chain_overrides)
    return Market(
        name="US stocks",
        job=JOB,
        lock=LOCK,
        calendar=calendar,
        chain=chain,
        collector=StocksCollector(calendar, settings),
        setup_command="us_stocks_update.py --setup",
        trading_day="a New York Stock Exchange (XNYS) trading day",
    )
