"""KRX's data site through pykrx's logged-in session (data.krx.co.kr needs a member login since 2025-12-27).

pykrx logs in when it is imported and reads KRX_ID / KRX_PW from the environment then, so it is imported
lazily, after the settings have been put there, with its prints turned into log lines."""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

import pandas as pd
import requests

from lib.errors import BadDataError, SourceBlockedError, TransientSourceError
from lib.log import get_logger
from lib.markets.krx.outblock import normalise_outblock, outblock_rows
from lib.markets.krx.source_base import DailyMarketSource, Query

MARKET_IDS = {"KOSPI": "STK", "KOSDAQ": "KSQ"}
log = get_logger("pykrx")


@contextlib.contextmanager
def _prints_to_log():
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    for line in buffer.getvalue().splitlines():
        # pykrx prints the login id; never repeat credentials into logs.
        if line.strip() and "ID:" not in line:
            log.info("pykrx: %s", line.strip())


class PykrxSource(DailyMarketSource):
    """Whole-market daily prices (MDCSTAT01501, [12001] 전종목 시세) with market cap and listed shares."""

    name = "pykrx"

    def __init__(self, krx_id: str | None, krx_pw: str | None, timeout: float) -> None:
        self.krx_id = krx_id
        self.krx_pw = krx_pw
        self.timeout = timeout
        self._modules: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._modules is None:
            if self.krx_id and self.krx_pw:
                os.environ["KRX_ID"] = self.krx_id
                os.environ["KRX_PW"] = self.krx_pw
            try:
                with _prints_to_log():
                    from pykrx.website.comm import auth
                    from pykrx.website.krx.market.core import 전종목시세
            except Exception as exc:  # noqa: BLE001 - any import-time failure (login, network) disables the source
                raise SourceBlockedError(f"pykrx could not be loaded: {exc.__class__.__name__}: {exc}") from None
            self._modules = (auth, 전종목시세)
        return self._modules

    def fetch_raw(self, query: Query) -> Any:
        """POST the whole-market request through pykrx's (logged-in) session."""
        auth, request_class = self._load()
        where = f"{self.name} {query.market} {query.day}"
        request = request_class()
        try:
            with _prints_to_log():
                krx_session = auth.get_auth_session()  # logs in again when the session has expired
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientSourceError(f"{where}: KRX login: {exc.__class__.__name__}") from None
        except (requests.RequestException, ValueError, KeyError) as exc:
            reason = exc.__class__.__name__
            raise SourceBlockedError(f"{where}: KRX login failed ({reason}); check KRX_ID/KRX_PW") from None
        session = krx_session.session if krx_session is not None else requests.Session()
        headers = krx_session.get_headers() if krx_session is not None else {}
        headers.update(request.headers)
        data = {"mktId": MARKET_IDS[query.market], "trdDd": query.day.strftime("%Y%m%d"), "bld": request.bld}
        try:
            response = session.post(request.url, headers=headers, data=data, timeout=self.timeout)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientSourceError(f"{where}: {exc.__class__.__name__}") from None
        except requests.RequestException as exc:
            raise BadDataError(f"{where}: request failed: {exc}") from None
        body = response.text.strip()
        if body.upper() == "LOGOUT":
            raise SourceBlockedError(
                f"{where}: KRX answered LOGOUT (HTTP {response.status_code}); set KRX_ID and KRX_PW to a "
                "data.krx.co.kr member account"
            )
        if response.status_code == 403:
            raise SourceBlockedError(f"{where}: HTTP 403, KRX is refusing this IP; wait before trying again")
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientSourceError(f"{where}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise BadDataError(f"{where}: HTTP {response.status_code}: {body[:120]!r}")
        try:
            return response.json()
        except ValueError:
            raise BadDataError(f"{where}: answer is not JSON: {body[:120]!r}") from None

    def normalise(self, raw: Any, query: Query) -> pd.DataFrame:
        """OutBlock_1 to the common schema."""
        where = f"{self.name} {query.market} {query.day}"
        return normalise_outblock(outblock_rows(raw, where), query, where)
