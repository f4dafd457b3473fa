"""The KRX market: KOSPI and KOSDAQ daily bars, its sources, the universe and the price-limit quarantine.

It registers `krx.bars` (per session) and what the AI reads of Korea on the watermark cadence:
`krx.disclosures` (OpenDART), `krx.news` (Naver Search API, Hankyung and Maeil RSS) and `krx.macro` (the Bank
of Korea's ECOS). The builders import the market's modules only when called, so reading the registry stays
light."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from lib.spine.datasets import Dataset, Subscriber, lazy

SEOUL = ZoneInfo("Asia/Seoul")


def _analysed_through(storage: Any) -> Any:
    return storage.picks.latest_analysis_day()  # the newest day whose picks are stored


def _disclosures_off(settings: Any) -> str | None:
    krx = settings.market("krx")
    if krx.disclosures_replay_dir or krx.dart_api_key:
        return None
    return "DART_API_KEY is blank (a free key from opendart.fss.or.kr turns it on)"


def _news_off(settings: Any) -> str | None:
    return None if settings.market("krx").news else "KRX_NEWS is false"


def _macro_off(settings: Any) -> str | None:
    krx = settings.market("krx")
    if krx.macro_replay_dir or krx.ecos_api_key:
        return None
    return "ECOS_API_KEY is blank (a free key from ecos.bok.or.kr turns it on)"


def _watermark(kind: str, label: str, module: str, builder: str, off: Any, stale_days: int, schedule: str,
               help_: str) -> Dataset:
    job = f"krx_{kind}"
    return Dataset(
        market="krx", kind=kind, label=label, cadence="watermark", job=job, lock=job, tz=SEOUL,
        setup=f"run `python collect.py krx.{kind}`", build=lazy(module, builder),
        stale_after=dt.timedelta(days=stale_days), schedule=schedule, source_help=help_, off=off,
        retention_setting=f"RETENTION_{kind.upper()}_DAYS",
    )


DATASETS = (
    Dataset(
        market="krx",
        kind="bars",
        label="KRX (KOSPI, KOSDAQ)",
        cadence="session",
        job="daily_update",
        lock="stock_data_collection",
        tz=SEOUL,
        setup="run `python manual_setup.py`",
        redo="run `python daily_update.py --redo {day}`",
        closed_setting="KRX_EXTRA_CLOSED_DAYS",
        collectors=("daily_update", "manual_setup"),
        calendar=lazy("lib.markets.krx.market", "krx_calendar"),
        build=lazy("lib.markets.krx.market", "krx_market"),
        # hourly_analysis runs 19:10..08:10 KST: until it is done, yesterday's analysis is not yet due.
        subscribers=(Subscriber("hourly_analysis", lazy("lib.analysis.status", "analysis_status"), _analysed_through,
                                (19, 9), screens=True),
                     # the AI's scored predictions of the analysed day (issue 16): off while AI_PREDICT_MODELS is blank
                     Subscriber("ai_predict"),
                     Subscriber("ai_evaluate")),  # scores the AI's predictions on the stored bars (issue 16)
        schedule="19:00 KST Mon-Fri",
        quarantines=True,
        source_help="for KRX: KRX_OPENAPI_KEY, KRX_ID/KRX_PW",
        currency="KRW",
    ),
    _watermark("disclosures", "KRX disclosures (OpenDART)", "lib.markets.krx.dart", "disclosures_reader",
               _disclosures_off, 4, "07:40, 12:40, 18:40 KST daily", "for OpenDART: DART_API_KEY"),
    _watermark("news", "KRX news (Naver, Hankyung, Maeil)", "lib.markets.krx.news", "news_reader", _news_off, 2,
               "07:40, 12:40, 18:40 KST daily", "for Naver: NAVER_CLIENT_ID/NAVER_CLIENT_SECRET"),
    _watermark("macro", "Korea macro (ECOS)", "lib.markets.krx.ecos", "macro_reader", _macro_off, 4,
               "07:40, 12:40, 18:40 KST daily", "for ECOS: ECOS_API_KEY"),
)
