"""A thin client of FRED's series/observations (api.stlouisfed.org), on `requests` (not fredapi: it sets no
timeout and its URLs, key included, end up in log lines).

The key travels as a query parameter, so no text this module raises or logs may carry a URL: an exception of
`requests` (whose message holds the full URL) becomes its class name only, and any text from the server passes
through `redact` first."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from lib.errors import BadDataError, RateLimitedError, SourceBlockedError, TransientSourceError
from lib.spine.http import http_get

OBSERVATIONS_URL = "https://api.stlouisfed.org/fred/series/observations"
KEY_NAME = "FRED_API_KEY"
RATE_LIMIT_PAUSE_SECONDS = 60.0  # FRED allows 120 requests a minute: a 429 waits the minute out


class FredClient:
    """series/observations with the real-time period of each value (output_type 1: one row per vintage)."""

    network = True

    def __init__(self, api_key: str, timeout: float, session: Any | None = None,
                 url: str = OBSERVATIONS_URL) -> None:
        self.api_key = api_key
        self.timeout = timeout
        self.session = session or requests.Session()
        self.url = url

    def redact(self, text: str) -> str:
        """The text without the key (FRED_API_KEY in its place)."""
        return text.replace(self.api_key, f"<{KEY_NAME}>") if self.api_key else text

    def observations(self, series: str, units: str, observation_start: dt.date, realtime_start: dt.date,
                     realtime_end: dt.date) -> dict[str, Any]:
        """FRED's JSON answer: every value of `series` observed from `observation_start` that was current at some
        time from `realtime_start` to `realtime_end`, each with its real-time period."""
        where = f"FRED {series}"
        params = {
            "series_id": series, "units": units, "observation_start": observation_start.isoformat(),
            "realtime_start": realtime_start.isoformat(), "realtime_end": realtime_end.isoformat(),
            "output_type": 1, "file_type": "json", "api_key": self.api_key,
        }
        return self._answer(http_get(self.session, self.url, where, self.timeout, params=params), where)

    def _answer(self, response: Any, where: str) -> dict[str, Any]:
        status = response.status_code
        if status == 429:
            raise RateLimitedError(f"{where}: HTTP 429, FRED asks to slow down (it allows 120 requests a minute)",
                                   pause=RATE_LIMIT_PAUSE_SECONDS)
        if status >= 500:
            raise TransientSourceError(f"{where}: HTTP {status} from FRED")
        message = self._message(response)
        if status in (401, 403) or (status == 400 and "api_key" in message):
            raise SourceBlockedError(
                f"{where}: FRED refused {KEY_NAME} (HTTP {status}: {message}); check the key at "
                "https://fredaccount.stlouisfed.org/apikeys"
            )
        if status != 200:
            raise BadDataError(f"{where}: HTTP {status}: {message}")
        try:
            payload = response.json()
        except ValueError:
            raise BadDataError(f"{where}: the answer is not JSON: {self.redact(response.text[:120])!r}") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("observations"), list):
            raise BadDataError(f"{where}: the answer has no observations list")
        return payload

    def _message(self, response: Any) -> str:
        """FRED's own error message (JSON `error_message`), else the start of the body; redacted."""
        try:
            payload = response.json()
            text = str(payload.get("error_message") or payload) if isinstance(payload, dict) else str(payload)
        except ValueError:
            text = response.text[:200]
        return self.redact(" ".join(text.split()))
