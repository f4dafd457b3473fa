"""The KRX market on the collection spine: KOSPI and KOSDAQ, one request per market per day, bars into
stock_data and the universe refreshed from the latest complete day of each batch."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from lib.bars import bars_from_day
from lib.calendar import TradingCalendar
from lib.config import Settings
from lib.jobs.runner import COLLECTION_LOCK, JobContext
from lib.log import get_logger
from lib.markets import Collector, DayFetch, Fetched, Market
from lib.sources import MARKETS, SourceChain, build_chain
from lib.sources.chain import DayUnavailable, Request
from lib.universe import plan_universe

log = get_logger("krx")

JOB = "daily_update"


def krx_calendar(settings: Settings) -> TradingCalendar:
    """XKRX with KRX_EXTRA_CLOSED_DAYS / KRX_EXTRA_SESSIONS."""
    return TradingCalendar(settings.krx_extra_closed_days, settings.krx_extra_sessions)


def fingerprint(frame: pd.DataFrame) -> str:
    """A digest of a market day's closes and volumes: equal digests on two sessions mean a stale answer."""
    ordered = frame.sort_values("ticker")
    columns = zip(ordered["ticker"], ordered["close"], ordered["volume"], strict=True)
    payload = "|".join(f"{t}:{c:.0f}:{v:.0f}" for t, c, v in columns)
    return hashlib.sha1(payload.encode()).hexdigest()


class KrxCollector(Collector):
    """KOSPI and KOSDAQ whole-market days into stock_data and system_info.target_tickers."""

    parts = MARKETS
    counters = ("bars_written", "universe_updates")

    def fetch(
        self, chain: SourceChain, wanted: Mapping[dt.date, Sequence[str]], now: dt.datetime
    ) -> Iterator[Fetched]:
        """One request per market per day, oldest day first."""
        for day in sorted(wanted):
            for market in wanted[day]:
                try:
                    yield Fetched(day, market, delivery=chain.fetch(Request(market, (day,)), now))
                except DayUnavailable as exc:
                    yield Fetched(day, market, problem=exc)

    def store(self, ctx: JobContext, days: Sequence[DayFetch]) -> None:
        """Bars of every delivered market day, then the universe as of the latest complete day."""
        by_ticker: dict[str, list[dict[str, Any]]] = {}
        dropped: list[str] = []
        inconsistent: list[str] = []
        for fetched in days:
            for market, delivery in fetched.delivered.items():
                frame = delivery.data
                if frame.attrs.get("dropped"):
                    dropped.append(f"{market} {fetched.day}: {frame.attrs['dropped']}")
                inconsistent += [f"{t} {fetched.day}" for t in frame.attrs.get("inconsistent", [])]
                for ticker, bar in bars_from_day(frame, fetched.day).items():
                    by_ticker.setdefault(ticker, []).append(bar)
        if dropped:
            log.info("row(s) without a close dropped: %s", "; ".join(dropped))
        if inconsistent:
            log.info("%d bar(s) stored as sent with low/high not bracketing open/close (adjusted-price rounding?): "
                     "%s%s", len(inconsistent), ", ".join(inconsistent[:5]), " ..." if len(inconsistent) > 5 else "")
        ctx.counters["bars_written"] += ctx.storage.upsert_bars(by_ticker)
        complete = [d for d in days if d.complete]
        if complete:
            # The latest complete day's delivered markets; a market stored by an earlier run (a half-delivered
            # day) or outside every source's range keeps its stocks as they are.
            latest = complete[-1]
            frame = pd.concat([d.data for d in latest.delivered.values()], ignore_index=True)
            ctx.counters["universe_updates"] += _refresh_universe(ctx, frame, latest.day)

    def digest(self, part: str, data: Any) -> str:
        """The closes and volumes of the market day."""
        return fingerprint(data)


def _refresh_universe(ctx: JobContext, frame: pd.DataFrame, day: dt.date) -> int:
    current = {doc["ticker"]: doc for doc in ctx.storage.universe()}
    as_of = max((doc["as_of_date"] for doc in current.values() if doc.get("as_of_date")), default=None)
    if as_of is not None and day.isoformat() < as_of:
        return 0  # an older day re-collected must not roll the universe back
    updates = plan_universe(current, frame, day, ctx.settings.market_cap_threshold_krw)
    return ctx.storage.apply_universe(updates)


def krx_market(settings: Settings, chain: SourceChain | None = None, **chain_overrides: object) -> Market:
    """The KRX market with the configured sources (or `chain`), calendar and collector."""
    return Market(
        name="KRX",
        job=JOB,
        lock=COLLECTION_LOCK,
        calendar=krx_calendar(settings),
        chain=chain if chain is not None else build_chain(settings, **chain_overrides),
        collector=KrxCollector(),
    )
