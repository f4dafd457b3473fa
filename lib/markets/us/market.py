"""The US ETF market on the collection spine: XNYS sessions (US_EXTRA_CLOSED_DAYS / US_EXTRA_SESSIONS), the US
sources (yfinance, replay), and a collector whose parts are the followed ETFs. A batch of pending sessions
costs one request per ETF (its bars over the batch and the sessions a 20-session return needs before it);
`store` then runs the seed's stages 1-5 for the batch's complete sessions (lib/markets/us/pipeline.py) before the spine
records them completed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from lib.config import Settings
from lib.errors import ConfigError
from lib.markets.us.batch import EtfPlan, fetch_window
from lib.markets.us.etf.universe import ETF_JOB, etf_specs
from lib.markets.us.pipeline import US_LOCK, run_stages
from lib.markets.us.recompute import recompute_dependants
from lib.markets.us.settings import us_settings
from lib.markets.us.sources import UsSource
from lib.spine.calendar import TradingCalendar
from lib.spine.chain import Attempt, DayUnavailable, Delivery, Request, SourceChain
from lib.spine.market import Collector, DayFetch, Fetched, Market
from lib.spine.records import Answer, Bar

if TYPE_CHECKING:
    from lib.markets.us.replay import UsReplaySource
    from lib.spine.runner import JobContext


def us_calendar(settings: Settings) -> TradingCalendar:
    """XNYS with US_EXTRA_CLOSED_DAYS / US_EXTRA_SESSIONS."""
    us = us_settings(settings)
    return TradingCalendar(us.extra_closed_days, us.extra_sessions, exchange="XNYS", settings_prefix="US")


def build_us_sources(settings: Settings, calendar: TradingCalendar) -> list[UsSource]:
    """The configured US sources in order."""
    us = us_settings(settings)
    sources: list[UsSource] = []
    for name in us.sources:
        if name == "yfinance":
            from lib.markets.us.yfinance_source import YFinanceSource

            sources.append(YFinanceSource(
                us.request_timeout_seconds, dt.timedelta(minutes=us.publish_delay_minutes),
                calendar.close_at, us.rate_limit_backoff_seconds, http=us.yfinance_http,
                cache_dir=us.yfinance_cache_dir,
            ))
        elif name == "replay":
            from lib.markets.us.replay import UsReplaySource

            assert us.replay_dir is not None  # UsSettings requires it; UsReplaySource checks the folder
            replay = UsReplaySource(us.replay_dir)
            if us.sources == ["replay"]:
                _check_followed_files(settings, replay)
            sources.append(replay)
    return sources


def _check_followed_files(settings: Settings, replay: UsReplaySource) -> None:
    """When the folder is the only source, every followed ETF needs its file: without it the ETF would be outside
    the source's range for good, its sessions recorded completed without it (without SPY, nothing could ever
    trend), and a file added later would never fill them."""
    us = us_settings(settings)
    followed = [s.ticker for s in etf_specs(us.benchmark_etfs, us.sector_etfs)]
    lacking = replay.lacking(followed)
    if lacking:
        raise ConfigError(
            f"US_REPLAY_DIR: {replay.root} has no us_etf/<TICKER>.csv for {', '.join(lacking)}, followed by "
            "US_BENCHMARK_ETFS / US_SECTOR_ETFS: add the file(s), or remove the ticker(s) from those settings"
        )


def build_us_chain(settings: Settings, sources: Sequence[UsSource], **overrides: object) -> SourceChain:
    """A SourceChain over US sources with the US pacing settings."""
    us = us_settings(settings)
    values: dict[str, object] = {
        "min_gap_seconds": us.min_request_gap_seconds,
        "max_attempts": us.max_attempts,
        "backoff_seconds": us.retry_backoff_seconds,
    }
    values.update(overrides)
    return SourceChain(list(sources), **values)  # type: ignore[arg-type]


def _first_bar(chain: SourceChain, source: str, ticker: str) -> dt.date | None:
    """The first bar a bounded source (a file) has for the ticker, when it knows."""
    found = next((s for s in chain.sources if s.name == source), None)
    return found.first_bar(ticker) if found is not None and hasattr(found, "first_bar") else None


class UsCollector(Collector):
    """The followed ETFs' daily bars, then the five stages for the sessions every ETF delivered."""

    counters = ("etf_bars_written", "stock_bars_written", "top_holdings_rows", "performance_updates",
                "recomputed_sessions", "rejected")

    def __init__(self, calendar: TradingCalendar, chain: SourceChain, plan: EtfPlan) -> None:
        self.calendar, self.chain, self.plan = calendar, chain, plan
        self.parts = tuple(plan.tickers)
        self._window: list[dt.date] = []
        self._answers: dict[str, Delivery[Answer[Bar]]] = {}

    def fetch(
        self, chain: SourceChain, wanted: Mapping[dt.date, Sequence[str]], now: dt.datetime
    ) -> Iterator[Fetched]:
        """One request per ETF for the whole batch, then each (session, ETF) oldest session first, so the
        sessions before a failing one are still stored."""
        days = sorted(wanted)
        self._window = fetch_window(self.calendar, days)
        self._answers = {}
        problems: dict[str, DayUnavailable] = {}
        for ticker in dict.fromkeys(t for day in days for t in wanted[day]):
            try:
                self._answers[ticker] = chain.fetch(Request(ticker, tuple(self._window)), now)
            except DayUnavailable as exc:
                problems[ticker] = exc
        for day in days:
            for ticker in wanted[day]:
                if ticker in problems:
                    yield Fetched(day, ticker, problem=problems[ticker])
                    continue
                delivery = self._answers[ticker]
                validated: Answer[Bar] = delivery.data
                row = next((r for r in validated.rows if r["date"] == day), None)
                if row is not None:
                    yield Fetched(day, ticker, delivery=Delivery(delivery.source, row))
                    continue
                first = _first_bar(chain, delivery.source, ticker)
                if first is not None and day < first:  # a fund launched later: outside its range, not empty
                    yield Fetched(day, ticker, problem=DayUnavailable(Request(ticker, (day,)), [Attempt(
                        delivery.source, "outside_range", f"{ticker}'s rows start at {first}", False)]))
                    continue
                refused = [r for r in validated.rejected if r.date == day.isoformat()]
                detail = f"no usable bar for {day}"
                if refused:  # bad data, to fix or ask again: never an empty day that settles as no_data
                    where = f" at {refused[0].where}" if refused[0].where else ""
                    detail += f" (rejected: {refused[0].reason}{where}; see system_info.bad_data)"
                network = next((s.network for s in chain.sources if s.name == delivery.source), True)
                outcome = "bad_data" if refused else "empty"
                yield Fetched(day, ticker, problem=DayUnavailable(
                    Request(ticker, (day,)), [Attempt(delivery.source, outcome, detail, network)]))

    def store(self, ctx: JobContext, days: Sequence[DayFetch]) -> None:
        """Stages 1-5 for the batch (lib/markets/us/pipeline.py): the sessions every ETF delivered get the derived
        stages; then what depends on bars written for sessions computed before (lib/markets/us/recompute.py)."""
        complete = [d.day for d in days if d.complete]
        run_stages(ctx, self.calendar, self.chain, self.plan, self._window, self._answers, complete)
        recompute_dependants(ctx, self.calendar, self.chain, self.plan, complete)

    def rows(self, data: Bar) -> int:
        """One bar per ETF and session."""
        return 1


def us_market(settings: Settings, chain: SourceChain | None = None, **chain_overrides: object) -> Market:
    """The US ETF market with the configured sources (or `chain`), XNYS and the collector."""
    calendar = us_calendar(settings)
    if chain is None:
        chain = build_us_chain(settings, build_us_sources(settings, calendar), **chain_overrides)
    plan = EtfPlan.from_settings(settings)
    return Market(
        name="XNYS",
        job=ETF_JOB,
        lock=US_LOCK,
        calendar=calendar,
        chain=chain,
        collector=UsCollector(calendar, chain, plan),
        setup_command="etf_pipeline.py",
        trading_day="a New York Stock Exchange (XNYS) trading day",
    )
