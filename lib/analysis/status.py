"""The analysis as check_db, alerts and `/health` see it: a market's universe and how far the analysis of its
collected days trails the collection. It is the state of the subscriber of the dataset it reads (KRX's in
lib/markets/krx, US stocks' in lib/markets/us), one per market with screened stocks, read from its own collections."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lib.display import count
from lib.errors import ConfigError
from lib.spine.calendar import TradingCalendar
from lib.storage import Storage


@dataclass
class AnalysisStatus:
    """The universe and how far its analysis is behind the collection."""

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
    heading: str = "KRX universe and analysis"
    job_name: str = ""  # the day-record job of the dataset it analyses
    market: str = "krx"  # the market whose stocks it analyses
    runs: str = "hourly_analysis"  # its own run records' job name
    name: str = "analysis"  # how attention lines call it: "analysis" (the first market's), "US analysis"
    alert_key: str = "analysis_stale"  # its alerts' key prefix, one per market

    def rows(self) -> list[list[str]]:
        """check_db's lines for it: (what, value)."""
        return [
            ["universe", f"{count(self.active)} active, {count(self.inactive)} inactive (data kept), market caps as "
                         f"of {self.universe_as_of or '-'}"],
            ["analysed", f"oldest {self.analysed_through or '-'}, latest {self.latest_analysed or '-'}; "
                         f"{count(self.pending)} active ticker(s) pending for the last collected day"],
            ["analysis lag", f"{'-' if self.lag is None else self.lag} session(s){' - STALE' if self.stale else ''}"],
            ["screening index", f"{self.screening_first or '-'} .. {self.screening_last or '-'}"],
            ["track records", f"as of {self.track_records_as_of or '-'}"],
        ]

    def attention(self) -> list[str]:
        """What needs a person: the analysis behind."""
        if not self.stale:
            return []
        return [f"{self.name}: {self.lag} collected session(s) not fully analysed ({self.pending} active ticker(s) "
                f"pending; see the {self.runs} runs)"]

    def alert(self, last_day: dt.date) -> tuple[str, str, str, dict[str, object]] | None:
        """The alert for the analysis behind `last_day`: (key, title, text, details), once per analysed day."""
        if not self.stale:
            return None
        through = self.analysed_through.isoformat() if self.analysed_through else "none"
        return (
            f"{self.alert_key}:{through}", f"the {self.name} is behind",
            f"The slowest active ticker is analysed only through {through}, {self.lag} collected session(s) behind "
            f"{last_day}; {self.pending} ticker(s) pending. Look at the {self.runs} runs (`python check_db.py`).",
            {"last_day": last_day.isoformat(), "analysed_through": through, "pending": self.pending},
        )


def analysis_status(
    storage: Storage, calendar: TradingCalendar, last_day: dt.date | None, stale_after: int, job: str = "",
    market: str = "krx", runs: str = "hourly_analysis",
) -> AnalysisStatus:
    """The universe and the analysis against the last collected day of the dataset whose day records `job`
    keeps, read from `storage` scoped to the market's collections; `runs` is the analysis's own job name."""
    universe = storage.universe.universe()
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
            try:
                lag = len(calendar.sessions_between(through + dt.timedelta(days=1), min(last_day, calendar.last)))
            except ConfigError:
                lag = 0
    stats_days = [d for d in storage.analysis.strategy_stats_dates().values() if d]
    return AnalysisStatus(
        active=len(active),
        inactive=len(universe) - len(active),
        universe_as_of=storage.universe.universe_as_of(),
        analysed_through=through,
        latest_analysed=max(done) if done else None,
        pending=pending,
        lag=lag,
        screening_first=storage.analysis.first_screening_day(),
        screening_last=storage.analysis.latest_screening_day(),
        track_records_as_of=dt.date.fromisoformat(min(stats_days)) if stats_days else None,
        stale=lag is not None and lag >= stale_after,
        job_name=job,
        heading=f"{market.upper()} universe and analysis",
        market=market,
        runs=runs,
        # the first market's (unscoped) analysis keeps its words and alert keys; another's says which it is
        name="analysis" if not storage.namespace else f"{market.upper()} analysis",
        alert_key=f"{storage.namespace}analysis_stale",
    )
