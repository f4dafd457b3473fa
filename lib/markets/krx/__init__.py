"""The KRX market: KOSPI and KOSDAQ daily bars, its sources, the universe and the price-limit quarantine.

It registers one dataset, `krx.bars`; the builders import the market's modules only when called, so reading
the registry stays light."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from lib.spine.datasets import Dataset, Subscriber, lazy


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
        calendar=lazy("lib.markets.krx.market", "krx_calendar"),
        build=lazy("lib.markets.krx.market", "krx_market"),
        # hourly_analysis runs 19:10..08:10 KST: until it is done, yesterday's analysis is not yet due.
        subscribers=(Subscriber("hourly_analysis", lazy("lib.analysis.status", "analysis_status"), _analysed_through,
                                (19, 9), screens=True),),
        schedule="19:00 KST Mon-Fri",
        quarantines=True,
        source_help="for KRX: KRX_OPENAPI_KEY, KRX_ID/KRX_PW",
    ),
)
