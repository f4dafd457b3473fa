"""The US market: the followed ETFs' bars and holdings, their sources and the ETF trend portfolio stages; the
listed US common stocks (issue 17).

It registers `us.etf_bars` and `us.stocks` (per session; the stocks are screened like KRX's, in their own
collections under the `us_` namespace, collected by one or several workers sharing batches through leases), and
on the watermark cadence what the AI reads of the US: `us.news` (Yahoo's headlines of the followed ETFs' top
holdings), `us.macro` (FRED series with their vintages), `us.financials` (the stocks' statements) and
`us.options` (the largest stocks' daily options summary). The builders import the market's modules only when
called, so reading the registry stays light."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from lib.spine.datasets import Dataset, Subscriber, lazy

NEW_YORK = ZoneInfo("America/New_York")


def _news_off(settings: Any) -> str | None:
    return None if settings.market("us").news else "US_NEWS is false"


def _macro_off(settings: Any) -> str | None:
    us = settings.market("us")
    if us.macro_replay_dir or us.fred_api_key:
        return None
    return "FRED_API_KEY is blank (a free key from fred.stlouisfed.org turns it on)"


def _stocks_off(settings: Any) -> str | None:
    return None if settings.market("us").stocks else "US_STOCKS is false"


def _financials_off(settings: Any) -> str | None:
    us = settings.market("us")
    return _stocks_off(settings) or (None if us.financials else "US_FINANCIALS is false")


def _options_off(settings: Any) -> str | None:
    us = settings.market("us")
    return _stocks_off(settings) or (None if us.options_top_n else "US_OPTIONS_TOP_N is 0")


def _analysed_through(storage: Any) -> Any:
    return storage.picks.latest_analysis_day()  # the newest day whose picks are stored (storage scoped "us_")


def _watermark(kind: str, label: str, module: str, builder: str, off: Any, stale_days: int, help_: str,
               retention: bool = True, schedule: str = "06:40 and 20:40 KST daily", stocks: bool = False) -> Dataset:
    job = f"us_{kind}"
    # a reader of the US stocks reads nothing before us_stocks_update stored their universe: that comes first
    first = "run `python us_stocks_update.py --setup` (the US universe), then" if stocks else "run"
    return Dataset(
        market="us", kind=kind, label=label, cadence="watermark", job=job, lock=job, tz=NEW_YORK,
        setup=f"{first} `python collect.py us.{kind}`", build=lazy(module, builder),
        stale_after=dt.timedelta(days=stale_days), schedule=schedule, source_help=help_,
        off=off, retention_setting=f"RETENTION_{kind.upper()}_DAYS" if retention else "",
    )


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
    Dataset(
        market="us",
        kind="stocks",
        label="US stocks (XNYS)",
        cadence="session",
        job="us_stocks_update",
        lock="us_stocks",
        tz=NEW_YORK,
        setup="run `python us_stocks_update.py --setup`",
        redo="run `python us_stocks_update.py --redo {day}`",
        closed_setting="US_EXTRA_CLOSED_DAYS",
        collectors=("us_stocks_update",),
        calendar=lazy("lib.markets.us.market", "us_calendar"),
        build=lazy("lib.markets.us.stocks.market", "us_stocks_market"),
        schedule="07:10 and 11:10 KST Tue-Sat",
        # its analysis (indicators, picks, track records) runs per market: `hourly_analysis.py --market us`
        subscribers=(Subscriber("us_analysis", lazy("lib.analysis.status", "analysis_status"), _analysed_through,
                                None, screens=True),),
        quarantines=True,
        source_help="for Yahoo: none (paced; US_STOCKS_BATCH_SIZE tickers per request)",
        off=_stocks_off,
        namespace="us_",
        currency="USD",
        workers=True,
    ),
    _watermark("news", "US news (Yahoo)", "lib.markets.us.news", "news_reader", _news_off, 2, "for Yahoo: none"),
    _watermark("macro", "US macro (FRED)", "lib.markets.us.fred", "macro_reader", _macro_off, 4,
               "for FRED: FRED_API_KEY"),
    _watermark("financials", "US financials (Yahoo statements)", "lib.markets.us.financials", "financials_reader",
               _financials_off, 8, "for Yahoo: none", retention=False, schedule="12:40 KST daily", stocks=True),
    _watermark("options", "US options summary (Yahoo)", "lib.markets.us.options", "options_reader", _options_off, 2,
               "for Yahoo: none", retention=False, schedule="06:50 KST Tue-Sat", stocks=True),
)
