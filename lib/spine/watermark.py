"""The watermark cadence: event streams (disclosures, news) and revisable series (macro, fundamentals).

A reader (OpenBB's fetcher pattern, like lib/spine/chain.py's Source) implements:

- `build_query(mark, now)`: the query for the next page after the stored `Mark` (pure);
- `fetch_raw(query)`: ask the source; the only step that leaves the process. TransientSourceError is retried
  (doubling pauses, a 429's own pause), anything else fails the run;
- `normalise(raw, query)`: a `Page` of typed `Item`s (natural key, time, fields, `known_at`), the `Rejected`
  rows it could not read, the `Mark` the watermark moves to once the page is stored, and whether more follow
  (pure);
- `validate(item)`: why an item is refused, or None (pure).

`run_watermark` reads from the stored mark page by page; per page it stores every item once on its natural key
(new, revised: the earlier value kept as a vintage with its `known_at`, or unchanged), records the rejected ones,
and only then moves the watermark. A kill at any write leaves the mark on the last stored page, and the rerun
reads the rest again: upserts on `_id`s derived from the data make the store identical to an uninterrupted run."""

from __future__ import annotations

import datetime as dt
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lib.errors import BadDataError, PipelineError, RateLimitedError, SourceBlockedError, TransientSourceError
from lib.log import get_logger
from lib.spine.datasets import Dataset, WatermarkState
from lib.spine.runner import run_job
from lib.spine.watermark_page import Item, Mark, Page, Rejected, store_page
from lib.storage.watermarks import stored_time

if TYPE_CHECKING:
    from lib.config import Settings
    from lib.spine.runner import AfterRun, JobContext
    from lib.storage import Storage

log = get_logger("watermark")
__all__ = ["Item", "Mark", "Page", "Rejected", "WatermarkReader", "items_known_at", "run_watermark", "watermark_state"]


class WatermarkReader(ABC):
    """The interface of a watermark dataset's source (see the module docstring)."""

    name: str
    network: bool = True  # a remote server: paced and retried; a local file: read once at full speed
    max_attempts: int = 3
    backoff_seconds: float = 5.0
    min_gap_seconds: float = 0.0  # between two requests (OpenDART blocks an IP that floods it)
    max_pages: int = 1000  # per run: a longer backlog is left to the next run, from the mark this one stored
    # The source dates each value's vintage (FRED's realtime_start) in `Item.known_at`. False (news, filings, a
    # series without vintages): `known_at` is the first publication, and a changed value counts from its read.
    vintages: bool = True

    def prepare(self, storage: Storage, now: dt.datetime) -> None:
        """Read what the run needs from the store before the first page (the universe's tickers and names, a
        refreshed code map); the run's lock is held. Default: nothing."""
        return None

    def page_stored(self, storage: Storage, query: Any, page: Page, now: dt.datetime) -> None:
        """Called once a page is stored and the watermark moved (a reader's own bookkeeping, e.g. when each
        ticker of a rotating list was read). Default: nothing."""
        return None

    def start(self, now: dt.datetime) -> Mark:
        """Where a dataset that has never read starts (default: the source's beginning)."""
        return Mark()

    @abstractmethod
    def build_query(self, mark: Mark, now: dt.datetime) -> Any:
        """The query for the page after `mark`, as of `now` (pure)."""

    @abstractmethod
    def fetch_raw(self, query: Any) -> Any:
        """Ask the source; raise TransientSourceError to be retried. The only I/O step."""

    @abstractmethod
    def normalise(self, raw: Any, query: Any) -> Page:
        """The raw answer as a Page of typed items (pure)."""

    def validate(self, item: Item) -> str | None:
        """Why the item is refused, or None to accept it (pure)."""
        return None


# --- the run ------------------------------------------------------------------------------------------


def stored_mark(storage: Storage, dataset: str) -> Mark | None:
    """The dataset's stored watermark, None before its first stored page."""
    doc = storage.watermarks.watermark(dataset)
    return Mark(doc.get("read_through"), doc.get("cursor")) if doc else None


def _forward(old: Mark, new: Mark) -> Mark:
    """The mark after a page: a time never moves back (a source answering older items than it did before does
    not make us read them twice or claim less than we hold)."""
    old_time = stored_time(old.read_through) if old.read_through else None
    new_time = stored_time(new.read_through) if new.read_through else None
    if old_time and (new_time is None or new_time < old_time):
        new_time = old_time
    return Mark(new_time, new.cursor)


@dataclass
class _Fetcher:
    """Asks a reader for one page: pacing between requests, transient errors retried with doubling pauses."""

    reader: WatermarkReader
    before_request: Callable[[], None]
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]
    last_call: float | None = None

    def __call__(self, query: Any) -> Any:
        attempts = self.reader.max_attempts if self.reader.network else 1
        for attempt in range(1, attempts + 1):
            self.before_request()  # the run's lock pulse: a slow source never makes it look dead
            if self.reader.network and self.last_call is not None:
                wait = self.reader.min_gap_seconds - (self.monotonic() - self.last_call)
                if wait > 0:
                    self.sleep(wait)
            self.last_call = self.monotonic()
            try:
                return self.reader.fetch_raw(query)
            except TransientSourceError as exc:
                if attempt == attempts:
                    raise
                pause = self.reader.backoff_seconds * 2 ** (attempt - 1)
                if isinstance(exc, RateLimitedError):  # the server asked us to slow down: never less than asked
                    pause = max(pause, exc.pause * 2 ** (attempt - 1))
                log.warning("%s (attempt %d/%d); retrying in %.0fs", exc, attempt, attempts, pause)
                self.sleep(pause)
        raise AssertionError("unreachable")


def run_watermark(
    ctx: JobContext,
    dataset: Dataset,
    reader: WatermarkReader,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Mark:
    """Read the dataset from its stored mark to the source's end (or `reader.max_pages`), storing page by page;
    the job body of a watermark dataset. Returns the mark it ends at."""
    storage, now, key = ctx.storage, ctx.as_of, dataset.key
    counters = ctx.counters
    for name in ("items_new", "items_revised", "items_unchanged", "rejected", "pages"):
        counters.setdefault(name, 0)
    saved = stored_mark(storage, key)
    mark = saved or reader.start(now)
    fetch = _Fetcher(reader, ctx.pulse, sleep, monotonic)
    try:
        reader.prepare(storage, now)
        for _ in range(reader.max_pages):
            query = reader.build_query(mark, now)
            page = reader.normalise(fetch(query), query)
            plan = store_page(storage, key, page, reader.validate, now, reader.vintages)
            moved = _forward(mark, page.mark)
            # only after the page is stored
            storage.watermarks.save_watermark(key, moved.read_through, moved.cursor, now)
            reader.page_stored(storage, query, page, now)
            saved, stuck, mark = moved, moved == mark, moved
            counters["pages"] += 1
            counters["items_new"] += plan.new
            counters["items_revised"] += plan.revised
            counters["items_unchanged"] += plan.unchanged
            counters["rejected"] += len(plan.rejected)
            if not page.more:
                break
            if stuck:  # the same query again would loop for ever
                raise BadDataError(f"{reader.name} answered another page without moving past {mark}: stopping")
        else:
            log.info("%s: %d pages read; the next run continues from the stored mark", key, reader.max_pages)
            counters["more_pages"] = True
    except PipelineError as exc:
        if isinstance(exc, SourceBlockedError):
            counters["blocked_sources"] = {reader.name: str(exc)}  # the alerts' source_blocked streak
        where = f"read through {saved.read_through.isoformat()}Z" if saved and saved.read_through else "nothing read"
        log.info("%s: stopped after %d stored page(s), %s; the next run resumes there", key, counters["pages"], where)
        raise
    finally:
        read_through = saved.read_through if saved else None
        counters["read_through"] = read_through.isoformat() if read_through else None
        # never below 0: a replay (--today) in one zone may read through a later moment than another zone's day
        counters["lag_seconds"] = max(0, round((stored_time(now) - read_through).total_seconds())) \
            if read_through else None
    return mark


def watermark_job(
    settings: Settings,
    storage: Storage,
    as_of: dt.datetime,
    clock: Callable[[], dt.datetime],
    dataset: Dataset,
    reader: WatermarkReader | None = None,
    sleep: Callable[[float], None] = time.sleep,
    after: AfterRun | None = None,
) -> int:
    """Run a watermark dataset's collection under the runner (its lock, a run record dated in the dataset's zone,
    the exit code, then `after`: the alert step lib/cli.py hands in); the reader defaults to the dataset's
    `build(settings)`."""
    if reader is None:
        if dataset.build is None:
            raise ValueError(f"dataset {dataset.key} has no build: pass its reader")
        reader = dataset.build(settings)
    return run_job(dataset.job, settings, storage, as_of, clock,
                   lambda ctx: run_watermark(ctx, dataset, reader, sleep), lock_name=dataset.lock, after=after,
                   tz=dataset.tz)


# --- reading back -------------------------------------------------------------------------------------


def _item(doc: Mapping[str, Any]) -> Item:
    return Item(doc["key"], doc["at"], doc["data"], doc["known_at"])


def items_known_at(
    storage: Storage, dataset: str, moment: dt.datetime, start: dt.datetime | None = None,
    end: dt.datetime | None = None, fields: Mapping[str, Any] | None = None,
) -> list[Item]:
    """What was known at `moment`: each item's value current then (a later revision is not seen), item times from
    `start` to `end`, oldest first; items first known after `moment` are left out. `fields`: equality on data
    fields, e.g. {"ticker": "005930"}."""
    return [_item(doc) for doc in storage.watermarks.items_known_at(dataset, moment, start, end, fields)]


def item_history(storage: Storage, dataset: str, key: str) -> list[Item]:
    """Every value an item has had, oldest first, each with its `known_at`."""
    return [_item(doc) for doc in storage.watermarks.item_history(dataset, key)]


def watermark_state(storage: Storage, dataset: Dataset, now: dt.datetime) -> WatermarkState:
    """How far the dataset has read and how late it is, as status, `/health` and alerts show it."""
    mark = stored_mark(storage, dataset.key)
    read_through = mark.read_through if mark else None
    lag = max(dt.timedelta(0), stored_time(now) - read_through) if read_through else None
    stale = lag is None or (dataset.stale_after is not None and lag > dataset.stale_after)
    latest = storage.jobs.latest_run(dataset.job)
    error = latest.get("error") if latest and latest.get("status") == "failed" else None
    return WatermarkState(
        dataset.key, dataset.label, read_through, mark.cursor if mark else None,
        storage.watermarks.item_count(dataset.key), storage.watermarks.vintage_count(dataset.key), lag, stale, error,
        setup=dataset.setup,
    )
