"""A run kept busy by slow requests extends its lock as it goes, so a run started meanwhile (cron's next one) sees it
alive and leaves it alone, however long one month's batch takes; a run that really stopped is still taken over."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lib.markets.us.replay import UsReplaySource
from tests.conftest import US_SAMPLE
from tests.helpers import new_york, run_etf, us_test_market

D = dt.date


class SlowReplay(UsReplaySource):
    """The bundled files, each request taking `minutes` of the fake clock; once the run has gone on for
    `meddle_after` minutes, cron starts another run."""

    def __init__(self, clock: Any, minutes: float, meddle_after: float, meddle: Any) -> None:
        super().__init__(US_SAMPLE)
        self.clock, self.minutes, self.meddle_after, self.meddle = clock, minutes, meddle_after, meddle
        self.started = clock()
        self.requests = 0
        self.meddled: list[int] = []

    def fetch_raw(self, query: Any) -> Any:
        self.requests += 1
        self.clock.advance(minutes=self.minutes)
        if not self.meddled and self.clock() - self.started >= dt.timedelta(minutes=self.meddle_after):
            self.meddled.append(self.meddle())
        return super().fetch_raw(query)


def test_a_first_run_slower_than_the_lock_timeout_keeps_its_lock(storage, make_settings, clock):
    settings = make_settings(us_first_run_sessions=5)
    as_of = new_york(D(2025, 9, 30))

    def cron_starts_another_run() -> int:
        return run_etf(storage, settings, as_of, clock)

    # 15 ETFs at 3 minutes a request: the first month's batch alone lasts 45 minutes, past LOCK_TIMEOUT (30).
    slow = SlowReplay(clock, minutes=3, meddle_after=settings.lock_timeout_minutes + 5, meddle=cron_starts_another_run)
    assert run_etf(storage, settings, as_of, clock, market=us_test_market(settings, sources=[slow])) == 0
    assert slow.meddled == [0]  # the other run found the lock held and left
    assert slow.requests * 3 > 2 * settings.lock_timeout_minutes
    runs = storage.jobs.runs("etf_pipeline")
    assert [r["status"] for r in runs] == ["completed"]
    assert storage.jobs.done_days("etf_pipeline") == set(storage.jobs.done_days("etf_pipeline", ("completed",)))
    assert len(storage.jobs.done_days("etf_pipeline")) == 5


def test_a_run_that_stopped_extending_its_lock_is_still_taken_over(storage, make_settings, clock):
    settings = make_settings(us_first_run_sessions=5)
    as_of = new_york(D(2025, 9, 30))
    storage.jobs.acquire_lock("us_etf", "etf_pipeline_dead", clock(), dt.timedelta(
        minutes=settings.lock_timeout_minutes
    ))
    assert run_etf(storage, settings, as_of, clock) == 0
    assert storage.jobs.runs("etf_pipeline") == []  # still held: the other run left
    clock.advance(minutes=settings.lock_timeout_minutes + 1)
    assert run_etf(storage, settings, as_of, clock) == 0
    assert [r["status"] for r in storage.jobs.runs("etf_pipeline")] == ["completed"]
