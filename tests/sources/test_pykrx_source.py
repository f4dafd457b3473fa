"""The pykrx source replays KRX's recorded answers (vcrpy cassettes from pykrx's own test suite), so the
request goes through pykrx's real session code offline; its parse must agree with pykrx's own."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

import pytest
import requests
import vcr

from lib.errors import SourceBlockedError, TransientSourceError
from lib.markets.krx.pykrx_source import PykrxSource
from lib.markets.krx.source_base import Query, validate_market_day
from tests.conftest import FIXTURES

DAY = dt.date(2021, 1, 22)
CASSETTES = {
    "KOSPI": "TestStockOhlcvByTickerTest.test_ohlcv_for_a_day.yaml",
    "KOSDAQ": "TestStockOhlcvByTickerTest.test_ohlcv_for_a_day_in_kosdaq.yaml",
}


def _same_krx_request(r1, r2) -> None:
    def key(request):
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        form = parse_qs(body)
        return form.get("bld"), form.get("mktId"), form.get("trdDd")

    assert key(r1) == key(r2)


replayer = vcr.VCR(
    cassette_library_dir=str(FIXTURES / "pykrx_cassettes"),
    record_mode="none",
    match_on=["method", "scheme", "host", "path", "krx_form"],
)
replayer.register_matcher("krx_form", _same_krx_request)


def fetch(market: str):
    src = PykrxSource(None, None, timeout=5)
    query = Query(DAY, market)
    with replayer.use_cassette(CASSETTES[market]):
        raw = src.fetch_raw(query)
    return validate_market_day(src.normalise(raw, query), query, src.name).frame


@pytest.mark.parametrize("market", ["KOSPI", "KOSDAQ"])
def test_a_whole_market_day_matches_pykrx_own_parse(market):
    from pykrx import stock

    frame = fetch(market).set_index("ticker")
    with replayer.use_cassette(CASSETTES[market]):
        reference = stock.get_market_ohlcv_by_ticker("20210122", market)
    assert len(frame) == len(reference) > 700
    for ours, theirs in [("open", "시가"), ("high", "고가"), ("low", "저가"), ("close", "종가"),
                         ("volume", "거래량"), ("value", "거래대금"), ("market_cap", "시가총액")]:
        assert (frame.loc[reference.index, ours] == reference[theirs].astype("float64")).all(), ours


def test_names_and_listed_shares_come_with_the_day():
    frame = fetch("KOSPI").set_index("ticker")
    assert frame.loc["095570", "name"] == "AJ네트웍스"
    assert frame.loc["095570", "shares"] == 46_822_295 and frame.loc["095570", "close"] == 4210


def _answer(status: int, body: str):
    def post(self, url, **_kwargs):
        response = requests.Response()
        response.status_code, response._content, response.url = status, body.encode(), url
        return response

    return post


def test_a_logout_answer_blocks_the_source_and_says_which_settings(monkeypatch):
    monkeypatch.setattr(requests.Session, "post", _answer(400, "LOGOUT"))
    with pytest.raises(SourceBlockedError, match="KRX_ID and KRX_PW"):
        PykrxSource(None, None, timeout=5).fetch_raw(Query(DAY, "KOSPI"))


def test_a_refused_ip_blocks_the_source(monkeypatch):
    monkeypatch.setattr(requests.Session, "post", _answer(403, "<html>Forbidden</html>"))
    with pytest.raises(SourceBlockedError, match="403"):
        PykrxSource(None, None, timeout=5).fetch_raw(Query(DAY, "KOSPI"))


def test_a_connection_failure_is_transient(monkeypatch):
    def refuse(self, url, **_kwargs):
        raise requests.ConnectionError("connection refused")

    monkeypatch.setattr(requests.Session, "post", refuse)
    with pytest.raises(TransientSourceError):
        PykrxSource(None, None, timeout=5).fetch_raw(Query(DAY, "KOSPI"))


def test_credentials_reach_pykrx_a_failed_login_is_transient_and_no_secret_is_logged(monkeypatch, caplog):
    import logging
    import os

    def unreachable(self, url, **_kwargs):
        raise requests.ConnectionError("network is unreachable")

    monkeypatch.setattr(requests.Session, "get", unreachable)
    monkeypatch.setattr(requests.Session, "post", unreachable)
    from pykrx.website.comm import auth

    monkeypatch.setattr(auth, "_auth_session", None)
    src = PykrxSource("someone", "secret", timeout=5)
    with caplog.at_level(logging.INFO, logger="pipeline"), pytest.raises((TransientSourceError, SourceBlockedError)):
        src.fetch_raw(Query(DAY, "KOSPI"))
    assert os.environ["KRX_ID"] == "someone"
    assert "secret" not in caplog.text and "someone" not in caplog.text


def test_a_pykrx_that_cannot_be_imported_is_a_source_error_not_a_crash(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pykrx.website.krx.market.core", None)
    with pytest.raises(SourceBlockedError, match="pykrx could not be loaded"):
        PykrxSource(None, None, timeout=5).fetch_raw(Query(DAY, "KOSPI"))
