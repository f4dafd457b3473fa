"""The US sources in the configured order with fallback: network sources paced (a minimum gap between calls),
transient errors retried with doubling pauses, a 429 waited out with a longer pause, a source that refuses us
not called again in this run; local files read at full speed."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lib.errors import (
    BadDataError,
    EmptyAnswerError,
    OutsideRangeError,
    RateLimitedError,
    SourceBlockedError,
    SourceError,
    TransientSourceError,
)
from lib.log import get_logger
from lib.sources.us import Query, UsSource, Validated

log = get_logger("sources")


class Unavailable(SourceError):
    """No configured US source delivered the request; `outcomes` says why, source by source."""

    def __init__(self, what: str, outcomes: list[tuple[str, str, str]]) -> None:
        self.outcomes = outcomes
        reasons = "; ".join(f"{s}: {o}{' (' + d + ')' if d else ''}" for s, o, d in outcomes)
        super().__init__(f"{what}: no source delivered it: {reasons}")

    @property
    def definitive(self) -> bool:
        """Every source that answered said there is nothing (empty, bad data or out of range), none failed
        transiently or refused us: asking again now would not change the answer."""
        kinds = {o for _, o, _ in self.outcomes}
        return not kinds & {"transient", "blocked"}


@dataclass
class UsChain:
    """Fetches a US query from the first source that delivers it."""

    sources: Sequence[UsSource]
    min_gap_seconds: float = 2.0
    max_attempts: int = 3
    backoff_seconds: float = 5.0
    rate_limit_backoff_seconds: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    calls: Counter = field(default_factory=Counter)
    disabled: dict[str, str] = field(default_factory=dict)
    _last_call: dict[str, float] = field(default_factory=dict)

    def available_at(self, day: dt.date, close: dt.datetime) -> dt.datetime | None:
        """The earliest moment a configured source has the session's final bar."""
        moments = [m for s in self.sources if (m := s.available_at(day, close)) is not None]
        return min(moments) if moments else None

    def earliest_day(self) -> dt.date | None:
        """The first day any source can serve, or None when one of them is unbounded."""
        firsts = [s.first_day() for s in self.sources]
        return None if any(f is None for f in firsts) else min(firsts)  # type: ignore[type-var]

    def _throttle(self, source: UsSource) -> None:
        if not source.paced:
            return
        last = self._last_call.get(source.name)
        if last is not None:
            wait = self.min_gap_seconds - (self.monotonic() - last)
            if wait > 0:
                self.sleep(wait)
        self._last_call[source.name] = self.monotonic()

    def _with_retries(self, source: UsSource, query: Query) -> Any:
        for attempt in range(1, self.max_attempts + 1):
            self._throttle(source)
            self.calls[source.name] += 1
            try:
                return source.normalise(source.fetch_raw(query), query)
            except TransientSourceError as exc:
                if attempt == self.max_attempts or not source.paced:
                    raise
                base = self.rate_limit_backoff_seconds if isinstance(exc, RateLimitedError) else self.backoff_seconds
                pause = base * 2 ** (attempt - 1)
                log.warning("%s (attempt %d/%d); retrying in %.0fs", exc, attempt, self.max_attempts, pause)
                self.sleep(pause)
        raise AssertionError("unreachable")

    def fetch(
        self,
        what: str,
        build: Callable[[UsSource], Query],
        validate: Callable[[Any, Query, str], Validated],
    ) -> tuple[Validated, str]:
        """The validated answer of the first source that delivers `build(source)`, and that source's name."""
        outcomes: list[tuple[str, str, str]] = []
        for source in self.sources:
            if source.name in self.disabled:
                outcomes.append((source.name, "blocked", "disabled earlier in this run"))
                continue
            query = build(source)
            try:
                validated = validate(self._with_retries(source, query), query, source.name)
            except SourceBlockedError as exc:
                self.disabled[source.name] = str(exc)
                log.error("%s; not calling %s again in this run", exc, source.name)
                outcomes.append((source.name, "blocked", str(exc)))
            except OutsideRangeError as exc:
                outcomes.append((source.name, "outside_range", str(exc)))
            except EmptyAnswerError as exc:
                outcomes.append((source.name, "empty", str(exc)))
            except BadDataError as exc:
                outcomes.append((source.name, "bad_data", str(exc)))
            except TransientSourceError as exc:
                log.warning("%s; giving up on %s for this request", exc, source.name)
                outcomes.append((source.name, "transient", str(exc)))
            else:
                if outcomes:
                    log.info("%s: fell back to %s", what, source.name)
                return validated, source.name
        raise Unavailable(what, outcomes)


def build_us_sources(settings: Any) -> list[UsSource]:
    """The configured US sources in order."""
    sources: list[UsSource] = []
    for name in settings.us_sources:
        if name == "yfinance":
            from lib.sources.yfinance_source import YFinanceSource

            sources.append(YFinanceSource(
                settings.us_request_timeout_seconds, dt.timedelta(minutes=settings.us_publish_delay_minutes),
                http=settings.us_yfinance_http, cache_dir=settings.us_yfinance_cache_dir,
            ))
        elif name == "replay":
            from lib.sources.us_replay import UsReplaySource

            sources.append(UsReplaySource(settings.us_replay_dir))
    return sources


def build_us_chain(settings: Any, sources: Sequence[UsSource] | None = None, **overrides: Any) -> UsChain:
    """A UsChain over the configured (or given) sources with the configured pacing."""
    return UsChain(
        list(sources) if sources is not None else build_us_sources(settings),
        min_gap_seconds=settings.us_min_request_gap_seconds,
        max_attempts=settings.us_max_attempts,
        backoff_seconds=settings.us_retry_backoff_seconds,
        rate_limit_backoff_seconds=settings.us_rate_limit_backoff_seconds,
        **overrides,
    )
