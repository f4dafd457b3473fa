"""Alerts derived from what the jobs store, sent at most once per event.

After every job (lib/cli.py hands `alert_after_job` to run_job in lib/spine/runner.py as its after-run hook, so
every market's jobs run it, and to record_stop in lib/spine/stops.py for a run that stopped before its job
started) the stored
state is read - run records, day records, the latest done day, the analysis progress, the quarantine, track
records - and each event becomes a key: a failure streak of
a job (`job_failed:<job>:<first failed run>`), its recovery, a source blocked over consecutive runs, a no_data
day, a registered dataset or a subscriber of it (the analysis) stale since a given day, a watermark dataset
stale, the bars of a day quarantined (`quarantine:<day>`), a
chosen strategy's picks of a day. A key already in
system_info.alerts is never alerted again, so cron retrying every hour sends nothing new. Each channel of a
record is claimed atomically before sending; a failed delivery is retried by the next job's alert step, up to
ALERT_MAX_ATTEMPTS. Nothing here can fail the job."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from lib.analysis.screener import discover, screen
from lib.config import Settings
from lib.display import duration, kst, priced_in
from lib.errors import EXIT_CONFIG, ConfigError, NotifyError
from lib.log import get_logger
from lib.ops.notifiers import Alert, Notifier, build_notifiers, configured_channels
from lib.ops.status import QUARANTINE_SHOWN, market_status, subscriber_state, watermark_states
from lib.ops.status_markets import tracked
from lib.spine.datasets import Dataset, Registry
from lib.spine.registry import registry as default_registry
from lib.storage import Storage, naive_utc

log = get_logger("alerts")
PICKS_SHOWN = 10


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _recent(moment: dt.datetime | None, now: dt.datetime, max_age: dt.timedelta) -> bool:
    return moment is not None and naive_utc(now) - moment <= max_age


def _alert(key: str, kind: str, severity: str, title: str, text: str, when: dt.datetime, host: str = "",
           **details: Any) -> Alert:
    return Alert(key, kind, severity, title, text, when, host, details)


def job_events(storage: Storage, now: dt.datetime, max_age: dt.timedelta, registry: Registry) -> list[Alert]:
    """A job's latest run failed (once per failure streak), completed again after an alerted streak, or found
    a source blocked (once per streak of runs that found it blocked)."""
    out = []
    for job in storage.jobs.job_names("run"):
        latest = storage.jobs.latest_run(job)
        if latest is None or latest["status"] == "running" or not _recent(latest.get("end_time_utc"), now, max_age):
            continue
        host = latest.get("host", "")
        if latest["status"] == "failed":
            first = storage.jobs.streak_start(job, latest)
            human = latest.get("exit_code") == EXIT_CONFIG
            how = "stopped before it started" if latest.get("stopped_before_start") else "failed"
            advice = ("This needs a person (exit 2): every run stops the same way until the setting or file is "
                      "fixed." if human else "The next scheduled run tries again.")
            out.append(_alert(
                f"job_failed:{job}:{first['_id']}", "job_failed", "error", f"{job} failed",
                f"{job} {how} (run of {kst(latest['start_time_utc'])}): {latest.get('error')}\n"
                f"{advice} `python check_db.py` shows the whole state.",
                latest["end_time_utc"], host, job=job, run_id=latest["_id"], error=latest.get("error"),
                needs_human=human,
            ))
        elif latest["status"] == "completed":
            previous = storage.jobs.latest_run(job, before=latest["start_time_utc"])
            if previous is not None and previous["status"] == "failed":
                first = storage.jobs.streak_start(job, previous)
                failed = storage.jobs.count_runs_between(job, first, previous)
                if storage.alerts.known_alert_keys([f"job_failed:{job}:{first['_id']}"]):
                    out.append(_alert(
                        f"job_recovered:{job}:{first['_id']}", "job_recovered", "info", f"{job} works again",
                        f"{job} completed at {kst(latest['start_time_utc'])} after {failed} failed run(s) since "
                        f"{kst(first['start_time_utc'])}.",
                        latest["end_time_utc"], host, job=job, run_id=latest["_id"], failed_runs=failed,
                    ))
        dataset = registry.of_collector(job)
        where = f" ({dataset.source_help})" if dataset and dataset.source_help else ""
        for source, reason in (latest.get("blocked_sources") or {}).items():
            first = storage.jobs.streak_start(job, latest, source=source)
            out.append(_alert(
                f"source_blocked:{source}:{job}:{first['_id']}", "source_blocked", "error",
                f"{source} is refusing {job}",
                f"{source} refused {job}'s requests and was not called again in that run: {reason}\n"
                f"Check its credentials in .env{where} or whether this machine's IP is blocked; the other "
                "configured sources were tried meanwhile.",
                latest["end_time_utc"], host, job=job, source=source, run_id=latest["_id"], reason=reason,
            ))
    return out


def market_events(storage: Storage, settings: Settings, now: dt.datetime, as_of: dt.datetime,
                  max_age: dt.timedelta, registry: Registry) -> list[Alert]:
    """Per dataset: a day recorded no_data (recently), the dataset stale past STALE_AFTER_SESSIONS, a subscriber
    of it (the analysis) behind; a watermark dataset stale."""
    out = []
    for item in tracked(registry, settings, set(storage.jobs.job_names("day"))):
        market, job = item.dataset, item.dataset.job
        days = storage.jobs.days_of(job)
        for record in days:
            if record["status"] == "no_data" and _recent(record.get("end_time_utc"), now, max_age):
                out.append(_alert(
                    f"no_data:{job}:{record['date_kst']}", "no_data", "error",
                    f"{record['date_kst']} recorded without data ({job})",
                    f"Every source still answers {record['date_kst']} empty, so it is recorded as a day without "
                    f"data and collection went on: {record.get('error')}\n"
                    f"{_sentence(market.no_data_hint(record['date_kst']))}",
                    record["end_time_utc"], job=job, day=record["date_kst"],
                ))
        if item.calendar is None:
            continue
        state = market_status(item, days, as_of.astimezone(market.tz).date(), settings.stale_after_sessions)
        if state.stale:
            out.append(_alert(
                f"stale:{job}:{state.last_day}", "stale", "warning", f"{market.label} data is stale",
                f"The newest collected session is {state.last_day}; {state.behind} session(s) since then are not "
                f"collected (latest session {state.latest_session}). Look at the last {job} runs "
                "(`python check_db.py`) and at logs/cron.log.",
                now, job=job, last_day=state.last_day.isoformat() if state.last_day else None, behind=state.behind,
            ))
        if state.last_day is None:
            continue
        for subscriber in market.subscribers:
            derived = subscriber_state(storage, item, subscriber, state.last_day, settings.stale_after_sessions) \
                if subscriber.status else None
            event = derived.alert(state.last_day) if derived is not None else None
            if event is not None:
                key, title, text, details = event
                out.append(_alert(key, key.split(":", 1)[0], "warning", title, text, now, **details))
    for w in watermark_states(storage, settings, registry, now):
        if w.stale:
            behind = f"{duration(w.lag.total_seconds())} behind" if w.lag is not None else "nothing read yet"
            since = w.read_through.isoformat() if w.read_through else "never"
            read = kst(w.read_through) if w.read_through else "nothing"
            out.append(_alert(
                f"stale:{w.dataset}:{since}", "stale", "warning", f"{w.label} is stale",
                f"{w.label} has read through {read} ({behind}){': ' + w.last_error if w.last_error else ''}. "
                "Look at its last runs (`python check_db.py`) and at logs/cron.log.",
                now, dataset=w.dataset, read_through=since,
            ))
    return out


def quarantine_events(storage: Storage, today: dt.date, max_age: dt.timedelta, now: dt.datetime,
                      redo: str = "collect the day {day} again", namespace: str = "") -> list[Alert]:
    """Bars of a recent day refused by the price-limit check (kept out of stock_data): once per market and day
    (keys under the market's `namespace`), naming the bars (a later bar quarantined for the same day is in check_db,
    not in a second alert)."""
    by_day: dict[str, list[dict[str, Any]]] = {}
    for doc in storage.bad_data.latest_quarantined(since=today - max_age):
        by_day.setdefault(doc["date_kst"], []).append(doc)
    out = []
    for day, docs in sorted(by_day.items()):
        lines = [f"{d['ticker']} ({d.get('market', '')}): {d['reason']}" for d in docs[:QUARANTINE_SHOWN]]
        more = f"\n... and {len(docs) - QUARANTINE_SHOWN} more" if len(docs) > QUARANTINE_SHOWN else ""
        out.append(_alert(
            f"{namespace}quarantine:{day}", "quarantine", "warning", f"{len(docs)} bar(s) of {day} quarantined",
            f"The price-limit check kept {len(docs)} bar(s) of {day} out of {namespace}stock_data "
            f"({namespace}system_info.bad_data):\n"
            + "\n".join(lines) + more + f"\nIf the source or file was wrong, fix it and {redo.format(day=day)}; "
            "`python check_db.py` lists the quarantined bars.",
            now, day=day, tickers=[d["ticker"] for d in docs],
        ))
    return out


def picks_events(storage: Storage, settings: Settings, today: dt.date, max_age: dt.timedelta, now: dt.datetime,
                 registry_loader: Callable[[], Any], screened: Dataset) -> list[Alert]:
    """The picks of each strategy in ALERT_STRATEGIES among the `screened` dataset's stocks (`storage` scoped to its
    market) on the latest day whose analysis is complete (the day its track record was refreshed), once per market,
    strategy and day (keys under the market's namespace); a day without picks is recorded, not sent."""
    stats_dates = storage.analysis.strategy_stats_dates()
    wanted = []
    for name in settings.alert_strategies:
        day = stats_dates.get(name)
        if day and today - dt.date.fromisoformat(day) <= max_age:
            wanted.append((name, dt.date.fromisoformat(day)))
    prefix = f"{screened.namespace}picks"
    known = storage.alerts.known_alert_keys(f"{prefix}:{n}:{d}" for n, d in wanted)
    fresh = [(n, d) for n, d in wanted if f"{prefix}:{n}:{d}" not in known]
    if not fresh or screened.calendar is None:
        return []
    registry = registry_loader()
    calendar = screened.calendar(settings)
    names = {t["ticker"]: t.get("name", "") for t in storage.universe.universe()}
    out = []
    for name, day in fresh:
        try:
            strategy = registry[name]
        except ConfigError as exc:
            log.warning("ALERT_STRATEGIES: %s", exc)
            continue
        with priced_in(screened.currency):  # the reasons state prices in the market's currency
            _, picks = screen(storage, calendar, strategy, strategy.params(), day)
        lines = [f"{p.ticker} {names.get(p.ticker, '')} (score {p.score:.2f}): {p.reason}" for p in picks[:PICKS_SHOWN]]
        more = f"\n... and {len(picks) - PICKS_SHOWN} more" if len(picks) > PICKS_SHOWN else ""
        among = f" ({screened.label})" if screened.namespace else ""  # the first market's words unchanged
        out.append(_alert(
            f"{prefix}:{name}:{day}", "picks", "info", f"{name}{among}: {len(picks)} pick(s) on {day}",
            f"{strategy.description}\n" + "\n".join(lines) + more, now,
            strategy=name, day=day.isoformat(), tickers=[p.ticker for p in picks],
        ))
    return out


def deliver(storage: Storage, notifiers: list[Notifier], settings: Settings, now: dt.datetime) -> tuple[int, int]:
    """Send every recent alert record's pending or failed (with attempts left) channels; returns (sent, failed)."""
    by_name = {n.name: n for n in notifiers}
    sent = failed = 0
    since = naive_utc(now) - dt.timedelta(days=settings.alert_max_age_days)
    for record in storage.alerts.alerts_since(since):
        for channel, delivery in record.get("channels", {}).items():
            notifier = by_name.get(channel)
            if notifier is None or delivery.get("status") not in ("pending", "failed"):
                continue
            if not storage.alerts.claim_channel(record["_id"], channel, now, settings.alert_max_attempts):
                continue
            alert = Alert(
                record["_id"], record.get("kind", ""), record.get("severity", "error"), record.get("title", ""),
                record.get("text", ""), record.get("time_utc") or record["created_utc"], record.get("host", ""),
                record.get("details") or {},
            )
            attempt = delivery.get("attempts", 0) + 1
            try:
                notifier.send(alert)
            except NotifyError as exc:
                storage.alerts.finish_channel(record["_id"], channel, now, str(exc))
                failed += 1
                left = settings.alert_max_attempts - attempt
                log.warning("alert %s NOT sent (attempt %d/%d; %s): %s", record["_id"], attempt,
                            settings.alert_max_attempts, "the next job's alert step retries" if left else "giving up",
                            exc)
                continue
            storage.alerts.finish_channel(record["_id"], channel, now, None)
            sent += 1
            log.info("alert %s sent to %s: %s", record["_id"], channel, record["title"])
    return sent, failed


def evaluate(storage: Storage, settings: Settings, now: dt.datetime, as_of: dt.datetime | None = None,
             registry_loader: Callable[[], Any] | None = None) -> int:
    """Record every new event (once per key) for the configured channels; returns how many were new."""
    channels = configured_channels(settings)
    max_age = dt.timedelta(days=settings.alert_max_age_days)
    as_of = as_of or now
    datasets = default_registry()
    events = job_events(storage, now, max_age, datasets)
    events += market_events(storage, settings, now, as_of, max_age, datasets)
    # Quarantined bars and picks are each market's, from its own collections (whatever scope the job that ran
    # before this step had: a US job's is "us_") on its own date.
    for held in datasets.quarantining_all():
        events += quarantine_events(storage.scoped(held.namespace), as_of.astimezone(held.tz).date(), max_age, now,
                                    held.redo, held.namespace)
    if settings.alert_strategies:
        for screened in datasets.screened_all():
            events += picks_events(storage.scoped(screened.namespace), settings, as_of.astimezone(screened.tz).date(),
                                   max_age, now, registry_loader or discover, screened)
    known = storage.alerts.known_alert_keys(e.key for e in events)
    new = 0
    for event in events:
        if event.key in known:
            continue
        # A strategy that picked nothing is recorded (so it is not screened again) but not sent.
        targets = channels if event.kind != "picks" or event.details.get("tickers") else []
        doc = {"kind": event.kind, "severity": event.severity, "title": event.title, "text": event.text,
               "host": event.host, "details": event.details, "time_utc": naive_utc(event.time_utc)}
        if storage.alerts.open_alert(event.key, doc, targets, now):
            new += 1
    return new


def alert_after_job(settings: Settings, storage: Storage, now: dt.datetime, as_of: dt.datetime | None = None) -> None:
    """The alert step every script runs after its job: record new events, send what is unsent. Never raises:
    a broken channel or database hiccup here is a WARNING line, and the job's exit code stands."""
    notifiers = build_notifiers(settings)
    if not notifiers:
        return
    try:
        evaluate(storage, settings, now, as_of)
        deliver(storage, notifiers, settings, now)
    except Exception as exc:  # noqa: BLE001 - alerting must never turn a job's result into a failure
        log.warning("alerts: could not evaluate or send (%s: %s); the job's result stands", exc.__class__.__name__, exc)
