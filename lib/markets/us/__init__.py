"""The US market: the followed ETFs' bars and holdings, their sources and the ETF trend portfolio stages.

It registers one dataset, `us.etf_bars`; the builders import the market's modules only when called, so reading
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
    from lib.markets.us.market import us_calendar

    return us_calendar(settings)


def _market(settings: Settings, **overrides: Any) -> Market:
    from lib.markets.us.market import us_market

    return us_market(settings, **overrides)


DATASETS = (
    Dataset(
        market="us",
        kind="etf_bars",
        label="US ETFs (XNYS)",
        cadence="session",
        job="etf_pipeline",
        lock="us_etf",
        tz=ZoneInfo("America/New_York"),
        setup="run `python etf_pipeline.py`",
        redo="run `python etf_pipeline.py --redo {day}`",
        closed_setting="US_EXTRA_CLOSED_DAYS",
        collectors=("etf_pipeline",),
        calendar=_calendar,
        build=_market,
        schedule="07:30 and 11:30 KST Tue-Sat",
        subscribers=(Subscriber("monthly_rebalance"),),  # merges the portfolios the stages store
    ),
)
