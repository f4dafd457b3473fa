"""The US market: the followed ETFs' bars and holdings, their sources and the ETF trend portfolio stages.

It registers one dataset, `us.etf_bars`; the builders import the market's modules only when called, so reading
the registry stays light."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from lib.spine.datasets import Dataset, Subscriber, lazy

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
        calendar=lazy("lib.markets.us.market", "us_calendar"),
        build=lazy("lib.markets.us.market", "us_market"),
        schedule="07:30 and 11:30 KST Tue-Sat",
        subscribers=(Subscriber("monthly_rebalance"),),  # merges the portfolios the stages store
    ),
)
