"""The KRX market on the collection spine: KOSPI and KOSDAQ, one request per market per day, bars into
stock_data and the universe refreshed from the latest complete day of each batch."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Mapping, Sequence

import pandas as pd

from lib.config import Settings
from lib.log import get_logger
from lib.markets.krx.bars import bars_by_ticker
from lib.markets.krx.quarantine import screen_days
from lib.markets.krx.settings import krx_settings
from lib.markets.krx.sources import MARKETS, SourceChain, build_chain
from lib.markets.krx.universe import is_common_stock, plan_universe
from lib.spine.calendar import TradingCalendar
from lib.spine.chain import Attempt, DayUnavailable, Request
from lib.spine.market import Collector, DayFetch, Fetched, Market
from lib.spine.quarantine import prior_closes
from lib.spine.records import MarketDay
from lib.spine.runner import JobContext

log = get_logger("krx")

JOB = "daily_update"  # as registered in lib/markets/krx/__init__.py (krx.bars)
LOCK = "stock_data_collection"
DATASET = "krx.bars"  # the registry's market.kind of KRX's daily bars: its held bars are filed under it


def krx_calendar(settings: Settings) -> TradingCalendar:
    """XKRX with KRX_EXTRA_CLOSED_DAYS / KRX_EXTRA_SESSIONS."""
    krx = krx_settings(settings)
    return TradingCalendar(krx.extra_closed_days, krx.extra_sessions, exchange="XKRX", settings_prefix="KRX")


def fingerprint(frame: pd.DataFrame) -> str:
    """A digest of a market day's closes and volumes: equal digests on two sessions mean a stale answer."""
    ordered = frame.sort_values("ticker")
    columns = zip(ordered["ticker"], ordered["close"], ordered["volume"], strict=True)
    payload = "|".join(f"{t}:{c:.0f}:{v:.0f}" for t, c, v in columns)
    return hashlib.sha1(payload.encode()).hexdigest()


class KrxCollector(Collector):
    """KOSPI and KOSDAQ whole-market days into stock_data and system_info.target_tickers."""

    parts = MARKETS
    counters = ("bars_written", "universe_updates", "quarantined")

    def __init__(self) -> None:
        self._network: dict[str, bool] = {}

    def fetch(
        self, chain: SourceChain, wanted: Mapping[dt.date, Sequence[str]], now: dt.datetime
    ) -> Iterator[Fetched]:
        """One request per market per day, oldest day first."""
        self._network = {source.name: source.network for source in chain.sources}
        for day in sorted(wanted):
            for market in wanted[day]:
                try:
                    yield Fetched(day, market, delivery=chain.fetch(Request(market, (day,)), now))
                except DayUnavailable as exc:
                    yield Fetched(day, market, problem=exc)

    def store(self, ctx: JobContext, days: Sequence[DayFetch]) -> None:
        """Bars of every delivered market day, checked for impossible prices first, then the universe as of the
        latest complete day."""
        dropped: list[str] = []
        inconsistent: list[str] = []
        for fetched in days:
            for market, delivery in fetched.delivered.items():
                answer: MarketDay = delivery.data
                if answer.dropped:
                    dropped.append(f"{market} {fetched.day}: {answer.dropped}")
                inconsistent += [f"{t} {fetched.day}" for t in answer.inconsistent]
        if dropped:
            log.info("row(s) without a close dropped: %s", "; ".join(dropped))
        if inconsistent:
            log.info("%d bar(s) stored as sent with low/high not bracketing open/close (adjusted-price rounding?): "
                     "%s%s", len(inconsistent), ", ".join(inconsistent[:5]), " ..." if len(inconsistent) > 5 else "")
        if days:
            self._store_bars(ctx, days)
        complete = [d for d in days if d.complete]
        if complete:
            # The latest complete day's delivered markets; a market stored by an earlier run (a half-delivered
            # day) or outside every source's range keeps its stocks as they are.
            latest = complete[-1]
            frame = pd.concat([d.data.frame for d in latest.delivered.values()], ignore_index=True)
            ctx.counters["universe_updates"] += _refresh_universe(ctx, frame, latest.day)

    def digest(self, part: str, data: MarketDay) -> str | None:
        """The closes and volumes of the market day; None when nothing traded (halted stocks only: a small
        file's day repeats its neighbour's close with no volume, which is not a stale answer)."""
        if not (data.frame["volume"] > 0).any():
            return None
        return fingerprint(data.frame)

    def _store_bars(self, ctx: JobContext, days: Sequence[DayFetch]) -> None:
        """The one place bars are checked before they are stored (lib/markets/krx/quarantine.py): impossible bars go to
        the quarantine with their reason, a market answer made mostly of them is taken back from the day's
        deliveries (the day stays pending and is asked again), the rest is stored."""
        storage = ctx.storage
        first, last = days[0].day, days[-1].day
        answers = [(d.day, [delivery.data for delivery in d.delivered.values()]) for d in days]
        tickers = sorted({t for _, day in answers for a in day for t in a.frame["ticker"] if is_common_stock(t)})
        stored = storage.bars.bars_around(tickers, first, last)  # one read per ticker for the check and the write
        prior = prior_closes(storage.bars.last_closes_before(tickers, first, recent=stored),
                             storage.bad_data.last_quarantined_before(first))
        screened = screen_days(answers, prior)
        for note in screened.confirmed:
            log.warning("%s", note)
        for item in screened.quarantined[:20]:
            log.warning("QUARANTINED %s %s: %s; not stored (held in system_info.bad_data); once the source is fixed, "
                        "`daily_update.py --redo %s` stores it", item.ticker, item.day, item.reason, item.day)
        if len(screened.quarantined) > 20:
            log.warning("... and %d more quarantined bar(s)", len(screened.quarantined) - 20)
        storage.bad_data.quarantine_bars((vars(item) for item in screened.quarantined), ctx.clock(), DATASET)
        ctx.counters["quarantined"] += len(screened.quarantined)
        by_day = {d.day: d for d in days}
        for refusal in screened.refused:
            fetched = by_day[refusal.day]
            delivery = fetched.delivered.pop(refusal.market)
            attempt = Attempt(delivery.source, "bad_data", refusal.message, self._network.get(delivery.source, True))
            fetched.missing[refusal.market] = DayUnavailable(Request(refusal.market, (refusal.day,)), [attempt])
            log.error("%s %s refused: %s", refusal.market, refusal.day, refusal.message)
        by_ticker = bars_by_ticker(screened.kept)
        ctx.counters["bars_written"] += storage.bars.upsert_bars(by_ticker, stored)
        storage.bad_data.clear_quarantine(by_ticker)


def _refresh_universe(ctx: JobContext, frame: pd.DataFrame, day: dt.date) -> int:
    current = {doc["ticker"]: doc for doc in ctx.storage.universe.universe()}
    as_of = max((doc["as_of_date"] for doc in current.values() if doc.get("as_of_date")), default=None)
    if as_of is not None and day.isoformat() < as_of:
        return 0  # an older day re-collected must not roll the universe back
    updates = plan_universe(current, frame, day, krx_settings(ctx.settings).market_cap_threshold_krw)
    return ctx.storage.universe.apply_universe(updates)


def krx_market(settings: Settings, chain: SourceChain | None = None, **chain_overrides: object) -> Market:
    """The KRX market with the configured sources (or `chain`), calendar and collector."""
    return Market(
        name="KRX",
        job=JOB,
        lock=LOCK,
        calendar=krx_calendar(settings),
        chain=chain if chain is not None else build_chain(settings, **chain_overrides),
        collector=KrxCollector(),
        setup_command="manual_setup.py",
    )
