"""The one source interface and the chain that calls it, for every market.

A source (OpenBB's fetcher pattern) implements:

- `build_query(request)`: the typed query for one `Request` (pure);
- `fetch_raw(query)`: ask the outside world; the only step that leaves the process. It raises
  TransientSourceError (worth retrying), SourceBlockedError (stop calling this source for the run),
  EmptyAnswerError, BadDataError or OutsideRangeError;
- `normalise(raw, query)`: the raw answer in the source kind's schema (pure, tested on recorded answers);
- `validate(data, query)`: check the normalised answer (pure), raising Empty/BadData errors;
- `available_at(day)`: when the source publishes a session (aware), None when it never will (past a file's end);
- `first_day()` / `last_day()`: the range a bounded source (a file) can serve, None when unbounded;
- `network`: True for a remote server (paced, retried, disabled when it blocks us), False for a local file
  (read at full speed; a refusal from a file never disables it).

A `Request` is the unit of fetching: one part of a market (a KRX market, a US ticker) over one or more
sessions, so a source that answers a date range in one call (yfinance) serves a missed week in one request per
ticker, and KRX keeps one request per market per day. `kind` lets one source serve several kinds of request.

`SourceChain.fetch(request, now)` asks the configured sources in order and returns the first `Delivery`; it
keeps a minimum gap between requests to a network source, retries transient errors with doubling pauses, stops
calling a source that says we are blocked or logged out, and raises `DayUnavailable` with each source's
`Attempt` when none delivered."""

from __future__ import annotations

import datetime as dt
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

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

log = get_logger("sources")


@dataclass(frozen=True)
class Request:
    """One unit of fetching: a part of a market (a KRX market, a US ticker) over one or more sessions."""

    part: str
    days: tuple[dt.date, ...]
    kind: str = "bars"

    def __post_init__(self) -> None:
        if not self.days:
            raise ValueError("a request covers at least one session")

    @property
    def last(self) -> dt.date:
        """The latest session asked for."""
        return max(self.days)

    def __str__(self) -> str:
        first, last = min(self.days), self.last
        span = str(last) if first == last else f"{first}..{last}"
        return f"{self.part} {span}" if self.kind == "bars" else f"{self.kind} {self.part} {span}"


class Source[T](ABC):
    """The interface every source implements, whatever it serves (see the module docstring); `T` is the typed
    answer it delivers (lib/spine/records.py: an `Answer` of a kind, a `MarketDay`)."""

    name: ClassVar[str]
    network: ClassVar[bool] = True

    @abstractmethod
    def build_query(self, request: Request) -> Any:
        """The typed query for a request (pure)."""

    @abstractmethod
    def fetch_raw(self, query: Any) -> Any:
        """Ask the outside world; raise Transient/Blocked/BadData/Empty/OutsideRange errors. The only I/O step."""

    @abstractmethod
    def normalise(self, raw: Any, query: Any) -> Any:
        """The raw answer in the source kind's schema (pure)."""

    def validate(self, data: Any, query: Any) -> T:
        """Check a normalised answer (pure) into the typed answer; the default accepts it as it is."""
        return data

    @abstractmethod
    def available_at(self, day: dt.date) -> dt.datetime | None:
        """When the source publishes the session (aware); None when it never will."""

    def first_day(self) -> dt.date | None:
        """The first session this source can serve, when it is bounded."""
        return None

    def last_day(self) -> dt.date | None:
        """The last session this source can serve, when it is bounded (a file)."""
        return None


@dataclass(frozen=True)
class Delivery[T]:
    """What a source delivered for a request: its validated, typed answer (lib/spine/records.py)."""

    source: str
    data: T


@dataclass(frozen=True)
class Attempt:
    """What one source answered for one request."""

    source: str
    outcome: str  # empty, blocked, transient, bad_data, outside_range, not_published
    detail: str = ""
    network: bool = True


class DayUnavailable(SourceError):
    """No configured source delivered this request; `attempts` says why, source by source."""

    def __init__(self, request: Request, attempts: list[Attempt]) -> None:
        self.request, self.attempts = request, attempts
        reasons = "; ".join(f"{a.source}: {a.outcome}{' (' + a.detail + ')' if a.detail else ''}" for a in attempts)
        super().__init__(f"{request}: no source delivered it: {reasons}")

    @property
    def outcomes(self) -> set[str]:
        """Every outcome the sources gave."""
        return {a.outcome for a in self.attempts}

    @property
    def all_empty(self) -> bool:
        """Every source able to answer answered, and with an empty answer."""
        outcomes = self.outcomes
        return "empty" in outcomes and not outcomes & {"transient", "bad_data", "not_published"}

    @property
    def out_of_range(self) -> bool:
        """No configured source can ever serve it (before a file's first session, a market a file lacks)."""
        return bool(self.attempts) and self.outcomes == {"outside_range"}

    @property
    def sources_down(self) -> bool:
        """The sources' problem, not the day's: one is down or has not published, or every one refused us."""
        outcomes = self.outcomes
        return bool(outcomes & {"transient", "not_published"}) or outcomes <= {"blocked"}

    @property
    def files_only(self) -> bool:
        """Every source that could have served it reads a local file, which will never change on its own."""
        able = [a for a in self.attempts if a.outcome != "outside_range"]
        return bool(able) and not any(a.network for a in able)


class FileSpan:
    """What a replay source over local files answers about time: every session from `first` to `last` is there at
    once (midnight of the day in `tz`), none after `last` ever will be. A replay sets `first`, `last` and `tz`."""

    first: dt.date
    last: dt.date
    tz: dt.tzinfo

    def available_at(self, day: dt.date) -> dt.datetime | None:
        """A session in the files is there at once; one after the last file date never will be."""
        return None if day > self.last else dt.datetime.combine(day, dt.time(0, 0), tzinfo=self.tz)

    def first_day(self) -> dt.date:
        """The files' first session."""
        return self.first

    def last_day(self) -> dt.date:
        """The files' last session."""
        return self.last


@dataclass
class SourceChain[T]:
    """Fetches a request from the first source that delivers it."""

    sources: Sequence[Source[T]]
    min_gap_seconds: float = 1.0
    max_attempts: int = 3
    backoff_seconds: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    calls: Counter = field(default_factory=Counter)
    disabled: dict[str, str] = field(default_factory=dict)
    # Called before every request (retries included): the running job's lock pulse (JobContext.pulse), so a
    # long run of slow requests keeps its lock.
    before_request: Callable[[], None] | None = None
    _last_call: dict[str, float] = field(default_factory=dict)

    def earliest_day(self) -> dt.date | None:
        """The first day any source can serve, or None when one of them is unbounded."""
        firsts = [s.first_day() for s in self.sources]
        return None if any(f is None for f in firsts) else min(firsts)  # type: ignore[type-var]

    def latest_day(self) -> dt.date | None:
        """The last day any source can serve, or None when one of them is unbounded."""
        lasts = [s.last_day() for s in self.sources]
        return None if any(d is None for d in lasts) else max(lasts)  # type: ignore[type-var]

    def _throttle(self, source: Source) -> None:
        if not source.network:
            return  # a local file is read at full speed
        last = self._last_call.get(source.name)
        if last is not None:
            wait = self.min_gap_seconds - (self.monotonic() - last)
            if wait > 0:
                self.sleep(wait)
        self._last_call[source.name] = self.monotonic()

    def _fetch_with_retries(self, source: Source[T], request: Request) -> T:
        query = source.build_query(request)
        attempts = self.max_attempts if source.network else 1
        for attempt in range(1, attempts + 1):
            if self.before_request is not None:
                self.before_request()
            self._throttle(source)
            self.calls[source.name] += 1
            try:
                raw = source.fetch_raw(query)
            except TransientSourceError as exc:
                if attempt == attempts:
                    raise
                pause = self.backoff_seconds * 2 ** (attempt - 1)
                if isinstance(exc, RateLimitedError):  # a 429: never hammer a server that asked us to slow down
                    pause = max(pause, exc.pause * 2 ** (attempt - 1))
                log.warning("%s (attempt %d/%d); retrying in %.0fs", exc, attempt, attempts, pause)
                self.sleep(pause)
                continue
            return source.validate(source.normalise(raw, query), query)
        raise AssertionError("unreachable")

    def fetch(self, request: Request, now: dt.datetime) -> Delivery[T]:
        """The validated answer of the first source that has the request; DayUnavailable otherwise."""
        attempts: list[Attempt] = []
        for source in self.sources:

            def attempt(outcome: str, detail: str = "", source: Source = source) -> None:
                attempts.append(Attempt(source.name, outcome, detail, source.network))

            if source.name in self.disabled:
                attempt("blocked", "disabled earlier in this run")
                continue
            if not all(published(source, day, now) for day in request.days):
                attempt("not_published")
                continue
            try:
                data = self._fetch_with_retries(source, request)
            except SourceBlockedError as exc:
                if source.network:
                    self.disabled[source.name] = str(exc)
                    log.error("%s; not calling %s again in this run", exc, source.name)
                    attempt("blocked", str(exc))
                else:
                    attempt("bad_data", str(exc))
            except OutsideRangeError as exc:
                attempt("outside_range", str(exc))
            except EmptyAnswerError as exc:
                log.warning("%s", exc)
                attempt("empty", str(exc))
            except BadDataError as exc:
                log.warning("%s", exc)
                attempt("bad_data", str(exc))
            except TransientSourceError as exc:
                log.warning("%s; giving up on %s for this request", exc, source.name)
                attempt("transient", str(exc))
            else:
                if attempts:
                    log.info("%s: fell back to %s", request, source.name)
                return Delivery(source.name, data)
        raise DayUnavailable(request, attempts)


def published(source: Source, day: dt.date, now: dt.datetime) -> bool:
    """True once the source should have published the session."""
    at = source.available_at(day)
    return at is not None and at <= now
