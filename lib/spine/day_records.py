"""How each day of a catch-up is recorded in job_status (completed, partial, empty, failed, no_data; see
lib/spine/catchup.py for what each means), and the run's verdict: what it left behind and why it fails."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lib.errors import ConfigError, SourceError
from lib.log import get_logger
from lib.spine.chain import DayUnavailable
from lib.spine.market import DayFetch, Market
from lib.spine.runner import JobContext
from lib.storage import DONE_STATUSES

if TYPE_CHECKING:
    from lib.spine.collect import MonthBatch

log = get_logger("collect")


@dataclass
class CatchUpRun:
    """What the whole run left unsettled, for the verdict at its end."""

    earlier: dict[dt.date, dict[str, Any]]  # the pending days' own records (partial, empty, failed)
    served: set[dt.date] = field(default_factory=set)  # days some part of which was delivered in this run
    unsettled: list[DayFetch] = field(default_factory=list)
    unservable: list[DayFetch] = field(default_factory=list)
    out_of_range: dict[str, list[dt.date]] = field(default_factory=dict)
    stop: SourceError | None = None
    stopped_on: dt.date | None = None


def _settled(problem: DayUnavailable, age: dt.timedelta, grace: dt.timedelta) -> bool:
    """A part given up as without data: every source able to answer still answers it empty past the grace
    period; never when only files were asked (they will not grow)."""
    return problem.all_empty and not problem.files_only and age > grace


def mark_days(ctx: JobContext, market: Market, batch: MonthBatch, run: CatchUpRun) -> list[dt.date]:
    """Record the batch's days, oldest first; returns the days recorded as done."""
    marked_at = ctx.clock().astimezone(dt.UTC).replace(tzinfo=None)
    today = market.calendar.local_date(ctx.as_of)
    grace = dt.timedelta(days=ctx.settings.missing_day_grace_days)
    done: list[dt.date] = []
    for result in batch.days:
        day = result.day
        for part in result.out_of_range:
            run.out_of_range.setdefault(part, []).append(day)
        if not result.delivered and not result.stored_before and not result.missing:
            run.unservable.append(result)
            continue
        before = run.earlier.get(day) or {}
        rows = (before.get("rows") or 0) if result.stored_before else 0
        rows += sum(market.collector.rows(d.data) for d in result.delivered.values())
        fields: dict[str, Any] = {
            "run_id": ctx.run_id, "end_time_utc": marked_at, "rows": int(rows), "sources": result.sources,
        }
        prints = {**(before.get("fingerprints") or {}), **result.digests} if result.stored_before else result.digests
        if prints:
            fields["fingerprints"] = prints
        if result.out_of_range:
            fields["out_of_range"] = sorted(result.out_of_range)
        if result.complete:
            status = "completed"
            ctx.counters["days_completed"] += 1
        elif all(_settled(p, today - day, grace) for p in result.missing.values()):
            status = "no_data"
            stored = f" ({', '.join(sorted(result.sources))} stored)" if result.sources else ""
            log.error(
                "NO DATA for session %s: every source still answers %s empty %d days later%s. Recording it as a "
                "day without data so collection can go on. If %s did trade that day, run `%s.py --redo %s`; "
                "if it was a closure, add `%s` to .env. (%s)",
                day, ", ".join(result.missing), (today - day).days, stored, market.name, market.job, day,
                market.calendar.closed_line(day), "; ".join(str(p) for p in result.missing.values()),
            )
            fields |= {"no_data_parts": list(result.missing), "error": _reasons(result)}
            ctx.counters["days_no_data"] += 1
        else:
            if result.sources:
                status = "partial"
            elif all(p.all_empty for p in result.missing.values()):
                status = "empty"
            else:
                status = "failed"
            fields |= {"missing": {part: str(p) for part, p in result.missing.items()}, "error": _reasons(result)}
            run.unsettled.append(result)
            ctx.counters["days_pending"] += 1
        ctx.storage.jobs.mark_day(day, status, fields, job=market.job)
        if status in DONE_STATUSES:
            done.append(day)
    return done


def _reasons(result: DayFetch) -> str:
    """Why each missing part was not delivered, briefly: 'KOSPI: replay empty; KOSDAQ: pykrx bad_data'."""
    return "; ".join(
        f"{part}: " + ", ".join(f"{a.source} {a.outcome}" for a in problem.attempts)
        for part, problem in result.missing.items()
    )


def verdict(ctx: JobContext, market: Market, run: CatchUpRun) -> None:
    """Say what the run left behind, and fail the run for what a later run or a human must fix."""
    calendar, name = market.calendar, market.name
    for part, days in run.out_of_range.items():
        log.warning(
            "%s: no configured source serves it for %d session(s) (%s..%s); those days are recorded with the "
            "other parts only", part, len(days), days[0], days[-1],
        )
    served = run.served | (ctx.storage.jobs.done_days(market.job) if run.unsettled else set())
    failed: list[DayFetch] = []
    closures: list[str] = []
    for result in run.unsettled:
        day, missing = result.day, result.missing
        wholly_empty = not result.sources and all(p.all_empty for p in missing.values())
        next_session = calendar.next_session(day)
        closure = wholly_empty and next_session in served
        files = all(p.files_only for p in missing.values())
        if closure and not files:
            closures.append(day.isoformat())
            log.warning(
                "CLOSED? every source answers the whole %s market empty for %s while serving the next session "
                "%s: the signature of a closure exchange-calendars does not know yet. Add `%s` to .env; until "
                "then the day stays pending (asked again each run) and is recorded no_data %d days after it",
                name, day, next_session, calendar.closed_line(day), ctx.settings.missing_day_grace_days,
            )
            continue
        if files:
            first = next(iter(missing.values())).attempts
            detail = next((a.detail for a in first if a.outcome != "outside_range"), "")
            fix = (
                f"if {name} traded that day, add its rows to the file (the next run collects them); if {name} was "
                f"closed, add `{calendar.closed_line(day)}` to .env" if wholly_empty else
                "correct the file (the next run collects the day)"
            )
            log.error("%s %s not collected (%s): %s. Only local files serve it, and a file does not change by "
                      "itself: %s", name, day, ", ".join(missing), detail, fix)
        failed.append(result)
    if closures:
        ctx.counters["suspected_closures"] = closures
    if run.stop is not None:
        ctx.counters["failed_day"] = run.stopped_on.isoformat() if run.stopped_on else None
        raise run.stop
    if run.unservable:
        days = ", ".join(r.day.isoformat() for r in run.unservable[:5])
        raise ConfigError(
            f"no configured source can serve {days} ({'; '.join(str(p) for p in _problems(run.unservable))}); "
            "configure a source that has these sessions"
        )
    if failed:
        ctx.counters["failed_day"] = failed[0].day.isoformat()
        summary = "; ".join(f"{r.day} ({_reasons(r)})" for r in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        message = f"{len(failed)} session(s) not collected, the others were: {summary}{more}"
        if all(all(p.files_only for p in r.missing.values()) for r in failed):
            raise ConfigError(message + "; fix the file or the settings as logged above")
        raise SourceError(message + "; the next run asks again")


def _problems(results: list[DayFetch]) -> list[str]:
    seen: list[str] = []
    for result in results:
        for problem in [*result.missing.values(), *result.out_of_range.values()]:
            if str(problem) not in seen:
                seen.append(str(problem))
    return seen[:2]
