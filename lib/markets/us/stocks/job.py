"""What us_stocks_update.py runs: the universe refreshed (weekly; forced by --setup), then the setup window
(`--setup`) or the catch-up of every pending session (and --redo days), after loading the history of the
joiners: active tickers without a stored bar get the setup window (SETUP_HISTORY_SESSIONS) up to the latest
collected session, in batches under leases like the daily bars; the catch-up then brings them up to date with
every other ticker."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from lib.errors import TransientSourceError
from lib.log import get_logger
from lib.markets.us.stocks.market import StocksCollector
from lib.spine.catchup import daily_update, manual_setup
from lib.spine.market import Market
from lib.spine.runner import JobContext

log = get_logger("us_stocks")

Refresh = Callable[[JobContext, bool], Any]


def refresh_universe(ctx: JobContext, force: bool) -> Any:
    """The universe from NASDAQ Trader's files and the profiles' market caps, when it is due (or forced)."""
    from lib.markets.us.stocks.universe import build_universe_source
    from lib.markets.us.stocks.universe import refresh_universe as refresh

    source = build_universe_source(ctx.settings)
    return refresh(ctx.storage, ctx.settings, ctx.as_of.date(), source, force=force)


def joiners(ctx: JobContext) -> list[str]:
    """Active tickers without any stored bar, largest first."""
    stored = set(ctx.storage.bars.stored_tickers())
    return [doc["ticker"] for doc in ctx.storage.universe.universe(active_only=True) if doc["ticker"] not in stored]


def backfill_joiners(ctx: JobContext, market: Market) -> int:
    """Load the joiners' history: the setup window up to the latest collected session; returns how many tickers
    were asked for (0 before the first collected session: the setup loads everyone)."""
    collector = market.collector
    assert isinstance(collector, StocksCollector)
    new = joiners(ctx)
    done = ctx.storage.jobs.done_days(market.job)
    if not new or not done:
        return 0
    last = max(done)
    window = market.calendar.last_sessions(last, ctx.settings.setup_history_sessions)
    # The joiners' names are in the scope: the same joiners are planned once, a different set anew.
    digest = hashlib.sha1(",".join(sorted(new)).encode()).hexdigest()[:12]
    scope = f"{collector.scope(window, kind='joiners')}|{digest}"
    log.info("%d joiner(s) without bars (%s%s): loading %s..%s", len(new), ", ".join(new[:5]),
             " ..." if len(new) > 5 else "", window[0], last)
    collector.share(market.chain, scope, new, window, ctx.as_of, keep=None)
    ctx.counters["joiners"] = len(new)
    return len(new)


RETRY_SESSIONS = 10  # how far back a ticker missing recent sessions is asked again (a halt lasts; a gap heals)


def laggards(ctx: JobContext, last: dt.date, since: dt.date) -> dict[str, dt.date]:
    """Active tickers with stored bars whose newest bar is older than `last` but not older than `since`, with that
    bar's day: a batch that answered without them (Yahoo's "no price data found" for one ticker of a download)
    or a worker's partial batch; largest first."""
    out: dict[str, dt.date] = {}
    for doc in ctx.storage.universe.universe(active_only=True):
        newest = ctx.storage.bars.recent_bars(doc["ticker"], 1)
        if newest and since <= (day := newest[-1]["date"].date()) < last:
            out[doc["ticker"]] = day
    return out


def retry_laggards(ctx: JobContext, market: Market) -> int:
    """Ask again for the recorded sessions an active ticker is missing (seed 000's retry of failed tickers): from
    the session after its newest bar up to the latest collected one, for gaps within RETRY_SESSIONS sessions;
    returns how many tickers were asked for. A ticker Yahoo no longer answers for (halted, delisted before the
    weekly refresh) is asked again each run until it leaves the universe or its gap is older than
    RETRY_SESSIONS."""
    collector = market.collector
    assert isinstance(collector, StocksCollector)
    done = ctx.storage.jobs.done_days(market.job)
    if not done:
        return 0
    last = max(done)
    behind = laggards(ctx, last, market.calendar.last_sessions(last, RETRY_SESSIONS + 1)[0])
    if not behind:
        return 0
    first = market.calendar.next_session(min(behind.values()))
    window = market.calendar.sessions_between(first, last)
    tickers = list(behind)
    digest = hashlib.sha1(",".join(sorted(tickers)).encode()).hexdigest()[:12]
    scope = f"{collector.scope(window, kind='retry')}|{digest}"
    log.info("%d ticker(s) missing sessions up to %s (%s%s): asking again for %s..%s", len(tickers), last,
             ", ".join(tickers[:5]), " ..." if len(tickers) > 5 else "", window[0], last)
    collector.share(market.chain, scope, tickers, window, ctx.as_of, keep=None)
    ctx.counters["retried"] = len(tickers)
    return len(tickers)


def stocks_job(
    ctx: JobContext,
    market: Market,
    setup: bool = False,
    redo: Sequence[dt.date] = (),
    refresh: Refresh | None = refresh_universe,
    sessions: int | None = None,
) -> None:
    """The universe, then the setup window or the joiners' history and the catch-up (see the module docstring)."""
    collector = market.collector
    assert isinstance(collector, StocksCollector)
    collector.attach(ctx, fresh=bool(redo))
    if refresh is not None:
        try:
            change = refresh(ctx, setup)
        except TransientSourceError as exc:
            # A weekly refresh that fails (Yahoo's screener 429, NASDAQ Trader down) must not cost the day's bars:
            # the stored universe is used and the refresh is due again on the next run (its date did not move).
            if setup or not ctx.storage.universe.universe(active_only=True):
                raise
            log.warning("the universe refresh failed, collecting with the stored universe: %s", exc)
            ctx.counters["universe_refresh_failed"] = 1
            change = None
        if change is not None:  # counts only: the tickers are in the refresh's own log line
            ctx.counters["universe_active"] = getattr(change, "active", None)
            ctx.counters["universe_joined"] = len(getattr(change, "joiners", ()))
            ctx.counters["universe_left"] = len(getattr(change, "leavers", ()))
    if setup:
        manual_setup(ctx, market, sessions=sessions)
        return
    backfill_joiners(ctx, market)
    retry_laggards(ctx, market)
    daily_update(ctx, market, redo)
