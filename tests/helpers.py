"""Test helpers: run a collection job on a given storage, and sources that fail on purpose."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd

from lib.calendar import TradingCalendar
from lib.config import Settings
from lib.jobs.collect import daily_update, manual_setup
from lib.jobs.runner import run_job
from lib.log import KST
from lib.sources import SourceChain, build_chain
from lib.sources.base import DailyMarketSource, Query
from lib.sources.replay import ReplaySource
from lib.storage import Storage


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
) -> int:
    """Run manual_setup or daily_update as the scripts do, on this storage, source chain and clock."""
    chain = chain or build_chain(settings, sleep=lambda _s: None)
    calendar = TradingCalendar(settings.krx_extra_closed_days, settings.krx_extra_sessions)
    if job == "manual_setup":
        code = run_job(job, settings, storage, as_of, clock, lambda ctx: manual_setup(ctx, calendar, chain))
    else:
        code = run_job(job, settings, storage, as_of, clock, lambda ctx: daily_update(ctx, calendar, chain, redo))
    if hasattr(clock, "advance"):
        clock.advance(minutes=1)  # runs follow each other in time, as cron's do
    return code


class ScriptedSource(DailyMarketSource):
    """Serves a replay panel under another name, raising the scripted error on chosen days."""

    def __init__(
        self,
        replay: ReplaySource,
        name: str = "scripted",
        failures: dict[dt.date, Callable[[], Any]] | None = None,
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
        failure = self.failures.get(query.day)
        if failure is not None:
            result = failure()
            if result is not None:
                return result
        return self.replay.fetch_raw(query)

    def normalise(self, raw: Any, query: Query) -> pd.DataFrame:
        return self.replay.normalise(raw, query)


def snapshot(storage: Storage) -> dict[str, Any]:
    """Everything a user relies on in the database, without run ids and wall-clock times."""
    bars = {t: list(storage.stock_db[t].find({}).sort("_id", 1)) for t in storage.stored_tickers()}
    universe = sorted(storage.universe(), key=lambda d: d["ticker"])
    days = [
        {k: d.get(k) for k in ("date_kst", "status", "rows", "sources")} for d in storage.day_records()
    ]
    return {"bars": bars, "universe": universe, "days": days}


def run_analysis(
    storage: Storage,
    settings: Settings,
    as_of: dt.datetime,
    clock: Callable[[], dt.datetime],
    chain: SourceChain | None = None,
) -> int:
    """Run hourly_analysis as the script does, on this storage, source chain and clock."""
    from lib.jobs.analysis import hourly_analysis
    from lib.screener import discover

    chain = chain or build_chain(settings, sleep=lambda _s: None)
    calendar = TradingCalendar(settings.krx_extra_closed_days, settings.krx_extra_sessions)
    registry = discover()
    code = run_job(
        "hourly_analysis", settings, storage, as_of, clock,
        lambda ctx: hourly_analysis(ctx, calendar, chain, registry), lock_name="analysis",
    )
    if hasattr(clock, "advance"):
        clock.advance(minutes=1)
    return code


def analysis_rows(panel: pd.DataFrame) -> pd.DataFrame:
    """What the analysis stores for a panel of (adjusted) bars: each common stock's indicator rows plus the
    cross-sectional measures computed over the whole panel, as the collected market."""
    from lib.cross_section import compute_measures, discover_measures, market_panel
    from lib.indicators import compute_many

    panel = panel.loc[panel["ticker"].str.endswith("0")].copy()
    panel["date"] = pd.to_datetime(panel["date"])
    rows = compute_many(panel)
    values = compute_measures(discover_measures(), market_panel(panel.groupby("ticker", sort=True)))
    keys = pd.MultiIndex.from_arrays([rows["date"], rows["ticker"]])
    for column, wide in values.items():
        rows[column] = wide.stack(future_stack=True).reindex(keys).to_numpy()
    return rows
