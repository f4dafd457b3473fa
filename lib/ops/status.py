"""The state a person asks about first (check_db.py): per market the collected range, holes, no_data and
failed days and how far behind it is; the universe and the analysis lag; the last runs of every job; the
database size per collection; alert delivery. Everything is read from what the jobs store, and every market
whose collection job writes day records shows up, known calendar or not."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from lib.analysis.screener import discover
from lib.config import Settings
from lib.display import kst
from lib.errors import ConfigError
from lib.log import KST
from lib.markets.krx.settings import krx_settings
from lib.markets.us.etf.universe import ETF_JOB
from lib.markets.us.settings import us_settings
from lib.ops.notifiers import configured_channels
from lib.ops.status_heal import mark_healed
from lib.spine.calendar import TradingCalendar
from lib.storage import DAY_JOB, DONE_STATUSES, CollectionSize, Storage, naive_utc

EXIT_OK = 0
EXIT_ATTENTION = 1
EXIT_NOT_SET_UP = 2

# Fields every run record has; the rest are the job's own counters.
RUN_FIELDS = frozenset(
    {"_id", "kind", "job_name", "status", "date_kst", "start_time_utc", "end_time_utc", "error", "host", "pid",
     "exit_code", "stopped_before_start"}
)


@dataclass(frozen=True)
class MarketInfo:
    """A market as its collection job records it: the job name of its day records, a label, its calendar, and
    what a person does about a day recorded without data."""

    job_name: str
    label: str
    tz: ZoneInfo
    calendar: TradingCalendar | None
    closed_setting: str = "the market's extra-closed-days setting"
    redo: str = "collect it again"
    key: str | None = None  # its name in MARKETS
    setup: str = "run its first collection"
    collectors: tuple[str, ...] = ()  # the jobs that collect its days (catch-up, setup): one heals the other
    def no_data_hint(self, day: dt.date | str) -> str:
        """What to do about a no_data day: a closure goes into the calendar, a trading day is collected again."""
        return f"if the market was closed, add it to {self.closed_setting}; if it traded, {self.redo.format(day=day)}"


def known_markets(settings: Settings) -> dict[str, MarketInfo]:
    """The markets whose calendar we know, by the job name of their day records."""
    krx_own, us_own = krx_settings(settings), us_settings(settings)
    krx = TradingCalendar(krx_own.extra_closed_days, krx_own.extra_sessions)
    xnys = TradingCalendar(us_own.extra_closed_days, us_own.extra_sessions, exchange="XNYS", settings_prefix="US")
    return {
        DAY_JOB: MarketInfo(DAY_JOB, "KRX (KOSPI, KOSDAQ)", KST, krx, "KRX_EXTRA_CLOSED_DAYS",
                            "run `python daily_update.py --redo {day}`", "krx", "run `python manual_setup.py`",
                            (DAY_JOB, "manual_setup")),
        ETF_JOB: MarketInfo(ETF_JOB, "US ETFs (XNYS)", xnys.tz, xnys, "US_EXTRA_CLOSED_DAYS",
                            "run `python etf_pipeline.py --redo {day}`", "us", "run `python etf_pipeline.py`",
                            (ETF_JOB,)),
    }


def market_of(job: str, markets: dict[str, MarketInfo]) -> MarketInfo:
    """The known market of a day-record job name, or one without a calendar."""
    return markets.get(job) or MarketInfo(job, job, KST, None)


@dataclass
class DayNote:
    """A day that is not plainly completed: no_data, or a status that is not done (failed...)."""

    day: dt.date
    status: str
    still_a_session: bool | None  # for no_data: does the calendar still call it a trading day?
    error: str | None = None


@dataclass
class MarketStatus:
    """One market's collection as its day records tell it."""

    job_name: str
    label: str
    first_day: dt.date | None
    last_day: dt.date | None
    completed: int
    no_data: list[DayNote]
    not_done: list[DayNote]  # day records whose status is not done (failed, ...)
    holes: list[dt.date] | None  # sessions between the first and last done day without a done record
    behind: int | None  # sessions after the last done day, up to yesterday
    latest_session: dt.date | None  # the latest session up to today
    stale: bool
    expected: bool = True  # configured (MARKETS) or set up: a market with nothing collected needs attention

    @property
    def sessions(self) -> int:
        """Done days: completed plus no_data."""
        return self.completed + len(self.no_data)


@dataclass
class AnalysisStatus:
    """The KRX universe and how far its analysis is behind the collection."""

    active: int
    inactive: int
    universe_as_of: dt.date | None
    analysed_through: dt.date | None  # the oldest analysis day of an active ticker (never-analysed ones aside)
    latest_analysed: dt.date | None
    pending: int  # active tickers not analysed through the last collected day
    lag: int | None  # collected sessions the analysis has not finished
    screening_first: dt.date | None
    screening_last: dt.date | None
    track_records_as_of: dt.date | None
    stale: bool


@dataclass
class JobRun:
    """A job's latest run and, when it is failing, since when."""

    job_name: str
    status: str
    started_utc: dt.datetime
    seconds: float | None
    error: str | None
    counters: dict[str, Any]
    last_completed_utc: dt.datetime | None
    failing_since_utc: dt.datetime | None = None
    failed_in_a_row: int = 0
    stuck: bool = False  # marked running, but its lock is gone or expired (killed)
    healed_by: str | None = None  # a failed run whose consequences a later run repaired (lib/ops/status_heal.py)


@dataclass
class AlertStatus:
    """Alert channels and how delivery went over the last days."""

    channels: list[str]
    sent: int
    undelivered: list[str]  # "key: channel: error" of deliveries that ran out of attempts


@dataclass
class QuarantinedBar:
    """A bar the price-limit check kept out of stock_data (lib/markets/krx/quarantine.py), and why."""

    ticker: str
    day: dt.date
    market: str
    reason: str


@dataclass
class QuarantineStatus:
    """How many bars are held in system_info.quarantine, and the newest few. A WARNING-level "needs a look": shown,
    alerted once per day, but not a reason for exit 1 (an entry stays until its day is collected clean)."""

    count: int = 0
    latest: list[QuarantinedBar] = field(default_factory=list)


QUARANTINE_SHOWN = 5


def quarantine_status(storage: Storage) -> QuarantineStatus:
    """The number of quarantined bars and the newest QUARANTINE_SHOWN of them."""
    latest = [QuarantinedBar(d["ticker"], dt.date.fromisoformat(d["date_kst"]), d.get("market", ""), d["reason"])
              for d in storage.latest_quarantined(QUARANTINE_SHOWN)]
    return QuarantineStatus(storage.quarantine_count() if latest else 0, latest)


@dataclass
class Status:
    """Everything check_db shows, and what needs attention."""

    as_of: dt.datetime
    markets: list[MarketStatus]
    analysis: AnalysisStatus | None
    jobs: list[JobRun]
    sizes: list[CollectionSize]
    alerts: AlertStatus
    attention: list[str] = field(default_factory=list)
    quarantine: QuarantineStatus = field(default_factory=QuarantineStatus)

    @property
    def exit_code(self) -> int:
        """0 all well, 1 something needs attention, 2 nothing collected yet (run manual_setup.py)."""
        if not any(m.last_day for m in self.markets):
            return EXIT_NOT_SET_UP
        return EXIT_ATTENTION if self.attention else EXIT_OK


def _sessions(calendar: TradingCalendar | None, start: dt.date, end: dt.date) -> list[dt.date] | None:
    if calendar is None:
        return None
    try:
        return calendar.sessions_between(start, min(end, calendar.last))
    except ConfigError:
        return None


def market_status(market: MarketInfo, days: list[dict[str, Any]], today: dt.date, stale_after: int) -> MarketStatus:
    """A market's collection from its day records, as of the market's own `today`."""
    done = {dt.date.fromisoformat(d["date_kst"]) for d in days if d["status"] in DONE_STATUSES}
    calendar = market.calendar

    def still_session(day: dt.date) -> bool | None:
        if calendar is None:
            return None
        try:
            return calendar.is_session(day)
        except ConfigError:
            return None

    no_data: list[DayNote] = []
    not_done: list[DayNote] = []
    for record in days:
        day = dt.date.fromisoformat(record["date_kst"])
        if record["status"] == "no_data":
            no_data.append(DayNote(day, "no_data", still_session(day), record.get("error")))
        elif record["status"] not in DONE_STATUSES:
            not_done.append(DayNote(day, record["status"], None, record.get("error")))
    first, last = (min(done), max(done)) if done else (None, None)
    holes = behind = None
    if first and last:
        inside = _sessions(calendar, first, last)
        holes = None if inside is None else [d for d in inside if d not in done]
        after = _sessions(calendar, last + dt.timedelta(days=1), today - dt.timedelta(days=1))
        behind = None if after is None else len(after)
    up_to_today = _sessions(calendar, today - dt.timedelta(days=30), today)
    latest = up_to_today[-1] if up_to_today else None
    return MarketStatus(
        market.job_name, market.label, first, last, len(done) - len(no_data), no_data, not_done, holes, behind,
        latest, behind is not None and behind >= stale_after,
    )


def analysis_status(
    storage: Storage, calendar: TradingCalendar, last_day: dt.date | None, stale_after: int
) -> AnalysisStatus:
    """The universe and the analysis of the KRX market against its last collected day."""
    universe = storage.universe()
    active = [t for t in universe if t.get("is_active")]
    analysed = [t.get("last_analyzed_date") for t in active]
    done = [dt.date.fromisoformat(a) for a in analysed if a]
    # Tickers never analysed (new in the universe, or before the first analysis) are pending, not lag: the
    # lag is how far the slowest analysed ticker trails; a ticker that keeps failing shows in the run's
    # `failed` counter, which check_db flags.
    through = min(done) if done else None
    pending = sum(1 for a in analysed if not a or (last_day and a < last_day.isoformat()))
    lag: int | None = None
    if last_day is not None:
        if through is None:
            lag = 1 if pending else 0
        else:
            lag = len(_sessions(calendar, through + dt.timedelta(days=1), last_day) or [])
    stats_days = [d for d in storage.strategy_stats_dates().values() if d]
    return AnalysisStatus(
        active=len(active),
        inactive=len(universe) - len(active),
        universe_as_of=storage.universe_as_of(),
        analysed_through=through,
        latest_analysed=max(done) if done else None,
        pending=pending,
        lag=lag,
        screening_first=storage.first_screening_day(),
        screening_last=storage.latest_screening_day(),
        track_records_as_of=dt.date.fromisoformat(min(stats_days)) if stats_days else None,
        stale=lag is not None and lag >= stale_after,
    )


def job_runs(storage: Storage, now: dt.datetime) -> list[JobRun]:
    """The latest run of every job that has run records, with its failure streak and whether it is stuck."""
    out = []
    for job in storage.job_names("run"):
        latest = storage.latest_run(job)
        if latest is None:
            continue
        end = latest.get("end_time_utc")
        completed = latest if latest["status"] == "completed" else storage.latest_run(job, "completed")
        run = JobRun(
            job_name=job,
            status=latest["status"],
            started_utc=latest["start_time_utc"],
            seconds=(end - latest["start_time_utc"]).total_seconds() if end else None,
            error=latest.get("error"),
            counters={k: v for k, v in latest.items() if k not in RUN_FIELDS},
            last_completed_utc=completed["start_time_utc"] if completed else None,
        )
        if latest["status"] == "failed":
            first = storage.streak_start(job, latest)
            run.failing_since_utc = first["start_time_utc"]
            run.failed_in_a_row = storage.count_runs_between(job, first, latest)
        if latest["status"] == "running":
            lock = storage.lock_of(latest["_id"])
            run.stuck = lock is None or lock["expires_utc"] < naive_utc(now)
        out.append(run)
    return out


def alert_status(storage: Storage, settings: Settings, now: dt.datetime) -> AlertStatus:
    """Configured channels, alerts sent over the last 7 days, deliveries that gave up."""
    channels = configured_channels(settings)
    sent, undelivered = 0, []
    for record in storage.alerts_since(naive_utc(now) - dt.timedelta(days=7)):
        for name, delivery in record.get("channels", {}).items():
            if delivery.get("status") == "sent":
                sent += 1
            elif delivery.get("status") == "failed" and delivery.get("attempts", 0) >= settings.alert_max_attempts:
                undelivered.append(f"{record['_id']}: {name}: {delivery.get('error')}")
    return AlertStatus(channels, sent, undelivered)


def gather(storage: Storage, settings: Settings, now: dt.datetime, today: dt.date | None = None,
           sizes: bool = True) -> Status:
    """The whole status as of `now` (aware); `today` (KST) replaces now's date for replays."""
    markets = known_markets(settings)
    statuses = []
    recorded = set(storage.job_names("day"))
    expected = expected_markets(settings, markets, recorded)
    for job in sorted(recorded | set(markets)):
        market = market_of(job, markets)
        local_today = today or now.astimezone(market.tz).date()
        state = market_status(market, storage.days_of(job), local_today, settings.stale_after_sessions)
        state.expected = job in expected
        statuses.append(state)
    krx = next(m for m in statuses if m.job_name == DAY_JOB)
    calendar = markets[DAY_JOB].calendar
    assert calendar is not None
    analysis = analysis_status(storage, calendar, krx.last_day, settings.stale_after_sessions) if krx.last_day else None
    status = Status(
        as_of=now,
        markets=statuses,
        analysis=analysis,
        jobs=mark_healed(job_runs(storage, now), statuses, markets),
        sizes=storage.collection_sizes() if sizes else [],
        alerts=alert_status(storage, settings, now),
        quarantine=quarantine_status(storage),
    )
    status.attention = attention(status, settings)
    return status


def expected_markets(settings: Settings, markets: dict[str, MarketInfo], recorded: set[str]) -> set[str]:
    """The day-record jobs of the markets this install runs: those MARKETS names, else those set up so far
    (any day record), else KRX, the default first step (a fresh install)."""
    if settings.markets:
        return {job for job, m in markets.items() if m.key in settings.markets}
    return recorded or {DAY_JOB}


def attention(status: Status, settings: Settings) -> list[str]:
    """One line per thing a person should look at, saying what to do where we know."""
    markets = known_markets(settings)
    out = []
    for m in status.markets:
        # With nothing collected there is no no_data day (a done status), no hole and nothing stale: only the
        # records that are not done, below.
        if m.last_day is None and m.expected and not m.not_done:
            out.append(f"{m.label}: nothing collected yet: {market_of(m.job_name, markets).setup}")
        if m.stale:
            out.append(
                f"{m.label}: stale: {m.behind} session(s) after the last collected day {m.last_day} are not "
                f"collected (threshold STALE_AFTER_SESSIONS={settings.stale_after_sessions}); see the last runs"
            )
        if m.holes:
            listed = ", ".join(d.isoformat() for d in m.holes[:5]) + (" ..." if len(m.holes) > 5 else "")
            out.append(f"{m.label}: {len(m.holes)} session(s) missing inside the collected range: {listed} "
                       "(the next daily_update collects them)")
        for note in m.not_done:
            out.append(f"{m.label}: {note.day} is recorded {note.status}: {note.error or 'no reason stored'}")
        for note in m.no_data:
            if note.still_a_session:
                hint = markets[m.job_name].no_data_hint(note.day)
                out.append(f"{m.label}: {note.day} is recorded no_data but the calendar calls it a session: {hint}")
    a = status.analysis
    if a is not None and a.stale:
        out.append(f"analysis: {a.lag} collected session(s) not fully analysed ({a.pending} active ticker(s) pending; "
                   "see the hourly_analysis runs)")
    for job in status.jobs:
        if job.status == "failed" and not job.healed_by:
            since = f" since {kst(job.failing_since_utc)}, {job.failed_in_a_row} run(s) in a row" \
                if job.failed_in_a_row > 1 else ""
            out.append(f"{job.job_name}: the last run failed{since}: {job.error}")
        failed = job.counters.get("failed")
        if job.status == "completed" and isinstance(failed, int) and failed > 0:
            out.append(f"{job.job_name}: the last run completed but {failed} item(s) failed in it (each is "
                       "logged as an ERROR in logs/cron.log; the next run retries them)")
        if job.stuck:
            out.append(f"{job.job_name}: a run started {kst(job.started_utc)} is marked running but its lock "
                       "is gone (killed?); the next run of the job closes it")
    for line in status.alerts.undelivered:
        out.append(f"alert not delivered: {line}")
    if settings.alert_strategies:
        known = {s.name for s in discover()}
        for name in settings.alert_strategies:
            if name not in known:
                out.append(f"ALERT_STRATEGIES names {name!r}, which is no strategy; known: {', '.join(sorted(known))}")
    return out
