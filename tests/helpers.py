"""Test helpers: run a collection job on a given storage, and sources that fail on purpose."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd

from lib.analysis.cross_section import compute_measures, discover_measures, market_panel
from lib.analysis.indicators import compute_many
from lib.config import Settings
from lib.log import KST
from lib.markets.krx.market import krx_calendar, krx_market
from lib.markets.krx.replay import ReplaySource
from lib.markets.krx.source_base import DailyMarketSource, Query
from lib.markets.krx.sources import SourceChain, build_chain
from lib.ops.alerts import alert_after_job
from lib.spine.calendar import TradingCalendar
from lib.spine.catchup import daily_update, manual_setup
from lib.spine.runner import run_job
from lib.storage import Storage


class SimulatedKill(BaseException):
    """The process dies here: nothing after it runs, not even error handlers (kill -9)."""


def kill_at_write(storage: Storage, crash_at: int | None) -> dict[str, int]:
    """Count the storage's writes (in the returned {"n": ...}); with crash_at, the process dies at that write."""
    writes = {"n": 0}

    def on_write(_what: str) -> None:
        writes["n"] += 1
        if crash_at is not None and writes["n"] == crash_at:
            raise SimulatedKill

    storage.on_write = on_write
    return writes


def restarted(step: Callable[[], int], clock: Any, settings: Settings) -> None:
    """Run a job (it must exit 0); when the process is killed, cron starts it again after the lock's timeout."""
    try:
        assert step() == 0
    except SimulatedKill:
        clock.advance(minutes=settings.lock_timeout_minutes + 1)
        assert step() == 0


def evening(day: dt.date, hour: int = 19) -> dt.datetime:
    """A KST moment on that day."""
    return dt.datetime.combine(day, dt.time(hour, 0), tzinfo=KST)


def run_collection(
    job: str,
    storage: Storage,
    settings: Settings,
    as_of: dt.datetime,
    clock: Callable[[], dt.datetime],
    chain: SourceChain | None = None,
    redo: tuple[dt.date, ...] = (),
    calendar: TradingCalendar | None = None,
) -> int:
    """Run manual_setup or daily_update as the scripts do, on this storage, source chain, clock (and calendar)."""
    market = krx_market(settings, chain or build_chain(settings, sleep=lambda _s: None))
    if calendar is not None:
        market.calendar = calendar
    if job == "manual_setup":
        code = run_job(job, settings, storage, as_of, clock, lambda ctx: manual_setup(ctx, market),
                       lock_name=market.lock, after=alert_after_job)
    else:
        code = run_job(job, settings, storage, as_of, clock, lambda ctx: daily_update(ctx, market, redo),
                       lock_name=market.lock, after=alert_after_job)
    if hasattr(clock, "advance"):
        clock.advance(minutes=1)  # runs follow each other in time, as cron's do
    return code


class ScriptedSource(DailyMarketSource):
    """Serves a replay panel under another name as a network source, raising the scripted error on chosen days
    (keys: a day, or a (day, market) pair)."""

    def __init__(
        self,
        replay: ReplaySource,
        name: str = "scripted",
        failures: dict[dt.date | tuple[dt.date, str], Callable[[], Any]] | None = None,
        publish_hour: int | None = None,
    ) -> None:
        self.replay = replay
        self.name = name  # type: ignore[misc]
        self.failures = failures or {}
        self.publish_hour = publish_hour
        self.calls: list[Query] = []

    def available_at(self, day: dt.date) -> dt.datetime | None:
        if self.publish_hour is None:
            return self.replay.available_at(day)
        return dt.datetime.combine(day, dt.time(self.publish_hour, 0), tzinfo=KST)

    def fetch_raw(self, query: Query) -> Any:
        self.calls.append(query)
        failure = self.failures.get((query.day, query.market)) or self.failures.get(query.day)
        if failure is not None:
            result = failure()
            if result is not None:
                return result
        return self.replay.fetch_raw(query)

    def normalise(self, raw: Any, query: Query) -> pd.DataFrame:
        return self.replay.normalise(raw, query)


def snapshot(storage: Storage) -> dict[str, Any]:
    """Everything a user relies on in the database, without run ids and wall-clock times."""
    bars = {t: list(storage.stock_db[t].find({}).sort("_id", 1)) for t in storage.bars.stored_tickers()}
    universe = sorted(storage.universe.universe(), key=lambda d: d["ticker"])
    days = [
        {k: d.get(k) for k in ("date_kst", "status", "rows", "sources")} for d in storage.jobs.day_records(
            "daily_update"
        )
    ]
    return {"bars": bars, "universe": universe, "days": days}


def run_analysis(
    storage: Storage,
    settings: Settings,
    as_of: dt.datetime,
    clock: Callable[[], dt.datetime],
    chain: SourceChain | None = None,
    calendar: TradingCalendar | None = None,
) -> int:
    """Run hourly_analysis as the script does, on this storage, source chain, clock (and calendar)."""
    from lib.analysis.job import hourly_analysis
    from lib.analysis.screener import discover

    chain = chain or build_chain(settings, sleep=lambda _s: None)
    calendar = calendar or krx_calendar(settings)
    registry = discover()
    code = run_job(
        "hourly_analysis", settings, storage, as_of, clock,
        lambda ctx: hourly_analysis(ctx, replace(krx_market(settings, chain=chain), calendar=calendar), registry),
        lock_name="analysis", after=alert_after_job,
    )
    if hasattr(clock, "advance"):
        clock.advance(minutes=1)
    return code


# --- the US ETF pipeline ---------------------------------------------------------------------------


def new_york(day: dt.date, hour: int = 18, minute: int = 0) -> dt.datetime:
    """A New York moment on that day (18:00: two hours after a regular close)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo("America/New_York"))


def us_test_market(settings: Settings, sources: list[Any] | None = None, calendar: Any = None) -> Any:
    """The US market as the scripts build it, with these sources (default: the configured ones) and no pauses."""
    from lib.markets.us.market import UsCollector, build_us_chain, build_us_sources, us_calendar, us_market
    from lib.markets.us.pipeline import EtfPlan
    from lib.spine.market import Market

    if sources is None and calendar is None:
        return us_market(settings, sleep=lambda _s: None)
    calendar = calendar or us_calendar(settings)
    chain = build_us_chain(settings, sources or build_us_sources(settings, calendar), sleep=lambda _s: None)
    base = us_market(settings, chain=chain)
    return Market(base.name, base.job, base.lock, calendar, chain,
                  UsCollector(calendar, chain, EtfPlan.from_settings(settings)), base.setup_command,
                  base.trading_day)


def run_etf(
    storage: Storage,
    settings: Settings,
    as_of: dt.datetime,
    clock: Callable[[], dt.datetime],
    market: Any = None,
) -> int:
    """Run etf_pipeline as the script does, on this storage, market and clock."""
    from lib.markets.us.pipeline import etf_pipeline

    market = market or us_test_market(settings)
    code = run_job("etf_pipeline", settings, storage, as_of, clock, lambda ctx: etf_pipeline(ctx, market),
                   lock_name=market.lock, after=alert_after_job, tz=market.calendar.tz)
    if hasattr(clock, "advance"):
        clock.advance(minutes=1)
    return code


def run_rebalance(
    storage: Storage, settings: Settings, as_of: dt.datetime, clock: Callable[[], dt.datetime], force: bool = False
) -> int:
    """Run monthly_rebalance as the script does."""
    from lib.markets.us.pipeline import EtfPlan
    from lib.markets.us.rebalance_job import monthly_rebalance

    market = us_test_market(settings)
    plan = EtfPlan.from_settings(settings)
    code = run_job("monthly_rebalance", settings, storage, as_of, clock,
                   lambda ctx: monthly_rebalance(ctx, market, plan, force), lock_name=market.lock,
                   after=alert_after_job, tz=market.calendar.tz)
    if hasattr(clock, "advance"):
        clock.advance(minutes=1)
    return code


def etf_snapshot(storage: Storage) -> dict[str, Any]:
    """Everything the US pipeline stored, without run ids and wall-clock times."""
    volatile = {"first_seen_utc", "last_seen_utc"}
    out: dict[str, Any] = {}
    for name in sorted(storage.etf_db.list_collection_names()):
        docs = sorted(storage.etf_db[name].find({}), key=lambda d: str(d["_id"]))
        out[name] = [{k: v for k, v in d.items() if k not in volatile} for d in docs]
    out["days"] = [
        {k: d.get(k) for k in ("date_kst", "status", "rows", "sources")} for d in storage.jobs.day_records(
            "etf_pipeline"
        )
    ]
    return out


class CountingSource:
    """Wraps a US source and counts its fetches by query kind and key."""

    def __init__(self, inner: Any, failures: dict[tuple[str, str], Callable[[], Any]] | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.network = inner.network
        self.calls: list[tuple[str, str]] = []
        self.failures = failures or {}

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def fetch_raw(self, query: Any) -> Any:
        kind = type(query).__name__.removesuffix("Query").lower()  # bars, holdings, profile
        key = getattr(query, "ticker", None) or getattr(query, "etf", "")
        self.calls.append((kind, key))
        failure = self.failures.get((kind, key))
        if failure is not None:
            result = failure()
            if result is not None:
                return result
        return self.inner.fetch_raw(query)

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.calls if k == kind)


def analysis_rows(panel: pd.DataFrame) -> pd.DataFrame:
    """What the analysis stores for a panel of (adjusted) bars: each common stock's indicator rows plus the
    cross-sectional measures computed over the whole panel, as the collected market."""
    panel = panel.loc[panel["ticker"].str.endswith("0")].copy()
    panel["date"] = pd.to_datetime(panel["date"])
    rows = compute_many(panel)
    values = compute_measures(discover_measures(), market_panel(panel.groupby("ticker", sort=True)))
    keys = pd.MultiIndex.from_arrays([rows["date"], rows["ticker"]])
    for column, wide in values.items():
        rows[column] = wide.stack(future_stack=True).reindex(keys).to_numpy()
    return rows
