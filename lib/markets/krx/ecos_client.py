"""A thin client of the Bank of Korea's ECOS StatisticSearch, on `requests`:
`{base}/StatisticSearch/{key}/json/kr/{start}/{end}/{stat_code}/{cycle}/{from}/{to}/{item_code}`.

The key is part of the URL's path, so no text this module raises may carry a URL: an exception of `requests`
(whose message holds the URL) becomes its class name only, and any text from the server passes through
`redact` first.

ECOS answers errors with HTTP 200 and a JSON `RESULT` {CODE, MESSAGE} (some limit errors come as XML):
INFO-200 (no data for the range) is an empty answer, not an error; INFO-100 (the key is not valid) stops the run
as `source_blocked`; ERROR-602 (too many calls) is a rate limit; ERROR-500/600/601 (server, database, SQL errors)
are transient; every other code (a bad argument) is bad data naming the code."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from lib.errors import BadDataError, RateLimitedError, SourceBlockedError, TransientSourceError
from lib.markets.krx.ecos_series import EcosSeries, period
from lib.spine.http import http_get

BASE_URL = "https://ecos.bok.or.kr/api"
KEY_NAME = "ECOS_API_KEY"
MAX_ROWS = 100_000  # one call answers up to this many rows
RATE_LIMIT_PAUSE_SECONDS = 60.0
TRANSIENT_CODES = ("ERROR-500", "ERROR-600", "ERROR-601")
EMPTY = {"StatisticSearch": {"list_total_count": 0, "row": []}}


class EcosClient:
    """StatisticSearch for one series and a range of periods."""

    network = True

    def __init__(self, api_key: str, timeout: float, session: Any | None = None, base_url: str = BASE_URL) -> None:
        self.api_key = api_key
        self.timeout = timeout
        self.session = session or requests.Session()
        self.base_url = base_url.rstrip("/")

    def redact(self, text: str) -> str:
        """The text without the key (ECOS_API_KEY in its place)."""
        return text.replace(self.api_key, f"<{KEY_NAME}>") if self.api_key else text

    def search(self, series: EcosSeries, start: dt.date, end: dt.date) -> dict[str, Any]:
        """ECOS's JSON answer for the series' periods from `start` to `end` (an empty one for INFO-200)."""
        where = f"ECOS {series.code}"
        url = (f"{self.base_url}/StatisticSearch/{self.api_key}/json/kr/1/{MAX_ROWS}/{series.stat_code}/"
               f"{series.cycle}/{period(start, series.cycle)}/{period(end, series.cycle)}/{series.item_code}")
        response = http_get(self.session, url, where, self.timeout)
        status = response.status_code
        if status == 429:
            raise RateLimitedError(f"{where}: HTTP 429 from ECOS (about 300 calls per 180 s)",
                                   pause=RATE_LIMIT_PAUSE_SECONDS)
        if status >= 500:
            raise TransientSourceError(f"{where}: HTTP {status} from ECOS")
        if status != 200:
            raise BadDataError(f"{where}: HTTP {status}: {self._start(response)!r}")
        try:
            payload = response.json()
        except ValueError:
            return self._not_json(response, where)
        if not isinstance(payload, dict):
            raise BadDataError(f"{where}: the answer is not a JSON object")
        result = payload.get("RESULT") or (payload.get("StatisticSearch") or {}).get("RESULT")
        if isinstance(result, dict) and result.get("CODE") not in (None, "INFO-000"):
            return self._result(str(result.get("CODE")), self.redact(str(result.get("MESSAGE", ""))), where)
        found = payload.get("StatisticSearch")
        if not isinstance(found, dict) or not isinstance(found.get("row", []), list):
            raise BadDataError(f"{where}: the answer has no StatisticSearch rows")
        total = found.get("list_total_count", 0)
        if isinstance(total, int | str) and str(total).isdigit() and int(total) > MAX_ROWS:
            raise BadDataError(f"{where}: {total} rows is more than one call answers ({MAX_ROWS}): lower "
                               "KRX_MACRO_FIRST_RUN_YEARS")
        return payload

    def _result(self, code: str, message: str, where: str) -> dict[str, Any]:
        if code == "INFO-200":
            return EMPTY
        if code == "INFO-100":
            raise SourceBlockedError(f"{where}: ECOS refused {KEY_NAME} ({code}: {message}); check the key at "
                                     "https://ecos.bok.or.kr/api/")
        if code == "ERROR-602":
            raise RateLimitedError(f"{where}: {code}, ECOS limits the calls ({message})",
                                   pause=RATE_LIMIT_PAUSE_SECONDS)
        if code in TRANSIENT_CODES:
            raise TransientSourceError(f"{where}: {code} from ECOS ({message})")
        raise BadDataError(f"{where}: ECOS answered {code}: {message}")

    def _not_json(self, response: Any, where: str) -> dict[str, Any]:
        """An XML or HTML answer: a limit error ECOS sends as XML, else bad data."""
        text = self._start(response)
        for code in ("INFO-200", "INFO-100", "ERROR-602", *TRANSIENT_CODES):
            if code in text:
                return self._result(code, "answered as XML", where)
        raise BadDataError(f"{where}: the answer is not JSON: {text!r}")

    def _start(self, response: Any) -> str:
        return self.redact(" ".join(str(response.text)[:200].split()))
