"""The KRX market: KOSPI and KOSDAQ daily bars, its sources, the universe and the price-limit quarantine.

It registers one dataset, `krx.bars`; the builders import the market's modules only when called, so reading
the registry stays light."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from lib.spine.datasets import Dataset, Subscriber

if TYPE_CHECKING:
    from lib.config import Settings
    from lib.spine.calendar import TradingCalendar
    from lib.spine.market import Market


def _calendar(settings: Settings) -> TradingCalendar:
    from lib.markets.krx.market import krx_calendar

    return krx_calendar(settings)


def _market(settings: Settings, **overrides: Any) -> Market:
    from lib.markets.krx.market import krx_market

    return krx_market(settings, **overrides)


def _analysis_status(*args: Any) -> Any:
    from lib.analysis.status import analysis_status

    return analysis_status(*args)


def _analysed_through(storage: Any) -> Any:
    return storage.picks.latest_analysis_day()  # the newest day whose picks are stored


DATASETS = (
    Dataset(
        market="krx",
        kind="bars",
        label="KRX (KOSPI, KOSDAQ)",
        cadence="session",
        job="daily_update",
        lock="stock_data_collection",
        tz=ZoneInfo("Asia/Seoul"),
        setup="run `python manual_setup.py`",
        redo="run `python daily_update.py --redo {day}`",
        closed_setting="KRX_EXTRA_CLOSED_DAYS",
        collectors=("daily_update", "manual_setup"),
        calendar=_calendar,
        build=_market,
        # hourly_analysis runs 19:10..08:10 KST: until it is done, yesterday's analysis is not yet due.
        subscribers=(Subscriber("hourly_analysis", _analysis_status, _analysed_through, (19, 9), screens=True),),
        schedule="19:00 KST Mon-Fri",
        quarantines=True,
        source_help="for KRX: KRX_OPENAPI_KEY, KRX_ID/KRX_PW",
    ),
)
