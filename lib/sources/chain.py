"""Sources in the configured order with fallback: rate limited, transient errors retried with backoff,
a source that says we are blocked or logged out is not called again in this run."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from lib.errors import (
    BadDataError,
    EmptyAnswerError,
    OutsideRangeError,
    SourceBlockedError,
    SourceError,
    TransientSourceError,
)
from lib.log import get_logger
from lib.sources.base import DailyMarketSource, validate_market_day

log = get_logger("sources")


@dataclass(frozen=True)
class Attempt:
    """What one source answered for one market day."""

    source: str
    outcome: str  # ok, empty, blocked, transient, bad_data, outside_range, not_published
    detail: str = ""


class DayUnavailable(SourceError):
    """No configured source delivered this market day; `attempts` says why, source by source."""

    def __init__(self, day: dt.date, market: str, attempts: list[Attempt]) -> None:
        self.day, self.market, self.attempts = day, market, attempts
        reasons = "; ".join(f"{a.source}: {a.outcome}{' (' + a.detail + ')' if a.detail else ''}" for a in attempts)
        super().__init__(f"{market} {day}: no source delivered it: {reasons}")

    @property
    def all_empty(self) -> bool:
        """Every source able to answer answered, and with an empty market."""
        outcomes = {a.outcome for a in self.attempts}
        return "empty" in outcomes and not outcomes & {"transient", "bad_data", "not_published"}


@dataclass
class SourceChain:
    """Fetches a market day from the first source that delivers it."""

    sources: Sequence[DailyMarketSource]
    min_gap_seconds: float = 1.0
    max_attempts: int = 3
    backoff_seconds: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    calls: Counter = field(default_factory=Counter)
    disabled: dict[str, str] = field(default_factory=dict)
    _last_call: dict[str, float] = field(default_factory=dict)

    def due(self, day: dt.date, now: dt.datetime) -> bool:
        """True once at least one source should have published the day."""
        return any((at := s.available_at(day)) is not None and at <= now for s in self.sources)

    def earliest_day(self) -> dt.date | None:
        """The first day any source can serve, or None when one of them is unbounded."""
        firsts = [s.first_day() for s in self.sources]
        return None if any(f is None for f in firsts) else min(firsts)  # type: ignore[type-var]

    def _throttle(self, source: str) -> None:
        last = self._last_call.get(source)
        if last is not None:
            wait = self.min_gap_seconds - (self.monotonic() - last)
            if wait > 0:
                self.sleep(wait)
        self._last_call[source] = self.monotonic()

    def _fetch_with_retries(self, source: DailyMarketSource, day: dt.date, market: str) -> pd.DataFrame:
        query = source.build_query(day, market)
        for attempt in range(1, self.max_attempts + 1):
            self._throttle(source.name)
            self.calls[source.name] += 1
            try:
                raw = source.fetch_raw(query)
            except TransientSourceError as exc:
                if attempt == self.max_attempts:
                    raise
                pause = self.backoff_seconds * 2 ** (attempt - 1)
                log.warning("%s (attempt %d/%d); retrying in %.0fs", exc, attempt, self.max_attempts, pause)
                self.sleep(pause)
                continue
            frame = validate_market_day(source.normalise(raw, query), query, source.name)
            if frame.attrs["dropped"] or frame.attrs["inconsistent"]:
                log.info(
                    "%s %s %s: %d row(s) without a close dropped; stored as sent with low/high not bracketing "
                    "open/close: %s", source.name, market, day, frame.attrs["dropped"],
                    ",".join(frame.attrs["inconsistent"][:5]) or "none",
                )
            return frame
        raise AssertionError("unreachable")

    def fetch_day(self, day: dt.date, market: str, now: dt.datetime) -> pd.DataFrame:
        """The validated market day from the first source that has it; DayUnavailable otherwise."""
        attempts: list[Attempt] = []
        for source in self.sources:
            if source.name in self.disabled:
                attempts.append(Attempt(source.name, "blocked", "disabled earlier in this run"))
                continue
            published = source.available_at(day)
            if published is None or published > now:
                attempts.append(Attempt(source.name, "not_published"))
                continue
            try:
                frame = self._fetch_with_retries(source, day, market)
            except SourceBlockedError as exc:
                self.disabled[source.name] = str(exc)
                log.error("%s; not calling %s again in this run", exc, source.name)
                attempts.append(Attempt(source.name, "blocked", str(exc)))
            except OutsideRangeError as exc:
                attempts.append(Attempt(source.name, "outside_range", str(exc)))
            except EmptyAnswerError as exc:
                log.warning("%s", exc)
                attempts.append(Attempt(source.name, "empty", str(exc)))
            except BadDataError as exc:
                log.warning("%s", exc)
                attempts.append(Attempt(source.name, "bad_data", str(exc)))
            except TransientSourceError as exc:
                log.warning("%s; giving up on %s for this day", exc, source.name)
                attempts.append(Attempt(source.name, "transient", str(exc)))
            else:
                if attempts:
                    log.info("%s %s: fell back to %s", market, day, source.name)
                return frame
        raise DayUnavailable(day, market, attempts)
