"""KRX Open API (data-dbg.krx.co.kr): the official source; one call per market per day, needs an API key."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import requests

from lib.errors import BadDataError, SourceBlockedError, TransientSourceError
from lib.log import KST
from lib.markets.krx.outblock import normalise_outblock, outblock_rows
from lib.markets.krx.source_base import DailyMarketSource, Query
from lib.spine.http import http_get

SERVICES = {"KOSPI": "stk_bydd_trd", "KOSDAQ": "ksq_bydd_trd"}


class KrxOpenApiSource(DailyMarketSource):
    """Daily trading data by issue (유가증권/코스닥 일별매매정보), published the next morning."""

    name = "krx_openapi"

    def __init__(self, api_key: str, base_url: str, timeout: float, session: requests.Session | None = None):
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def available_at(self, day: dt.date) -> dt.datetime:
        """KRX publishes a day's Open API data at 08:00 KST the next calendar day."""
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(8, 0), tzinfo=KST)

    def fetch_raw(self, query: Query) -> Any:
        """GET {base}/{service}?basDd=YYYYMMDD with the AUTH_KEY header."""
        url = f"{self.base_url}/{SERVICES[query.market]}"
        where = f"{self.name} {query.market} {query.day}"
        response = http_get(self.session, url, where, self.timeout, params={"basDd": query.day.strftime("%Y%m%d")},
                            headers={"AUTH_KEY": self.api_key})
        status = response.status_code
        if status in (401, 403):
            raise SourceBlockedError(
                f"{where}: HTTP {status}, the key was refused; check KRX_OPENAPI_KEY and that the service "
                f"{SERVICES[query.market]} is approved for it on openapi.krx.co.kr"
            )
        if status == 429 or status >= 500:
            raise TransientSourceError(f"{where}: HTTP {status}")
        if status != 200:
            raise BadDataError(f"{where}: HTTP {status}: {response.text[:120]!r}")
        try:
            payload = response.json()
        except ValueError:
            raise BadDataError(f"{where}: answer is not JSON: {response.text[:120]!r}") from None
        if isinstance(payload, dict) and "OutBlock_1" not in payload and payload.get("respCode"):
            message = f"{where}: KRX said {payload.get('respCode')} {payload.get('respMsg', '')}".strip()
            if str(payload.get("respCode")) in ("401", "403"):
                raise SourceBlockedError(message + "; check KRX_OPENAPI_KEY")
            raise BadDataError(message)
        return payload

    def normalise(self, raw: Any, query: Query) -> pd.DataFrame:
        """OutBlock_1 to the common schema."""
        where = f"{self.name} {query.market} {query.day}"
        return normalise_outblock(outblock_rows(raw, where), query, where)
