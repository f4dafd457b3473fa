"""The KRX Open API client against a local stub server answering in KRX's documented shape, built from
KRX's real whole-market snapshot of 2021-01-04."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from lib.errors import BadDataError, EmptyAnswerError, SourceBlockedError, TransientSourceError
from lib.markets.krx.openapi import KrxOpenApiSource
from lib.markets.krx.source_base import Query, validate_market_day
from lib.spine.chain import Request, SourceChain
from tests.conftest import FIXTURES

DAY = dt.date(2021, 1, 4)
KEY = "test-key"


def openapi_rows(market: str) -> list[dict[str, str]]:
    """The snapshot's rows as the Open API sends them: strings, short code in ISU_CD, name in ISU_NM."""
    snapshot = pd.read_csv(FIXTURES / "krx_marketcap_snapshot_20210104.csv", dtype=str)
    rows = snapshot.loc[snapshot["MKT_NM"] == market]
    fields = ["TDD_CLSPRC", "CMPPREVDD_PRC", "FLUC_RT", "TDD_OPNPRC", "TDD_HGPRC", "TDD_LWPRC",
              "ACC_TRDVOL", "ACC_TRDVAL", "MKTCAP", "LIST_SHRS"]
    return [
        {"BAS_DD": "20210104", "ISU_CD": r.ISU_SRT_CD, "ISU_NM": r.ISU_ABBRV, "MKT_NM": r.MKT_NM,
         "SECT_TP_NM": r.SECT_TP_NM if isinstance(r.SECT_TP_NM, str) else "", **{f: getattr(r, f) for f in fields}}
        for r in rows.itertuples()
    ]


class Stub:
    """Scripted answers per (service, basDd); each value is a list of (status, body) served in turn."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.delay = 0.0


@pytest.fixture
def stub() -> Iterator[tuple[Stub, str]]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            url = urlparse(self.path)
            service = url.path.rsplit("/", 1)[-1]
            day = parse_qs(url.query).get("basDd", [""])[0]
            state.requests.append((service, day, self.headers.get("AUTH_KEY")))
            if state.delay:
                threading.Event().wait(state.delay)
            queue = state.answers.get((service, day)) or [(200, json.dumps({"OutBlock_1": []}))]
            status, body = queue.pop(0) if len(queue) > 1 else queue[0]
            if self.headers.get("AUTH_KEY") != KEY:
                status, body = 401, json.dumps({"respMsg": "Unauthorized Key", "respCode": "401"})
            payload = body.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and hung up: that is what the timeout test wants

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_port}/svc/apis/sto"
    finally:
        server.shutdown()
        server.server_close()


def source(url: str, key: str = KEY, timeout: float = 5) -> KrxOpenApiSource:
    return KrxOpenApiSource(key, url, timeout)


def fetch(src: KrxOpenApiSource, market: str = "KOSPI") -> pd.DataFrame:
    query = src.build_query(Request(market, (DAY,)))
    return validate_market_day(src.normalise(src.fetch_raw(query), query), query, src.name).frame


def test_a_day_is_read_with_the_key_and_normalised(stub):
    state, url = stub
    state.answers[("stk_bydd_trd", "20210104")] = [(200, json.dumps({"OutBlock_1": openapi_rows("KOSPI")}))]
    frame = fetch(source(url))
    assert state.requests == [("stk_bydd_trd", "20210104", KEY)]
    samsung = frame.set_index("ticker").loc["005930"]
    assert samsung["name"] == "삼성전자" and samsung["close"] == 83000
    assert samsung["market_cap"] == 495_491_951_650_000 and samsung["shares"] == 5_969_782_550
    assert (frame["market"] == "KOSPI").all() and len(frame) == len(openapi_rows("KOSPI"))


def test_kosdaq_uses_its_own_service(stub):
    state, url = stub
    state.answers[("ksq_bydd_trd", "20210104")] = [(200, json.dumps({"OutBlock_1": openapi_rows("KOSDAQ")}))]
    frame = fetch(source(url), "KOSDAQ")
    assert state.requests[0][0] == "ksq_bydd_trd" and (frame["market"] == "KOSDAQ").all()


def test_a_refused_key_blocks_the_source(stub):
    _, url = stub
    with pytest.raises(SourceBlockedError, match="KRX_OPENAPI_KEY"):
        fetch(source(url, key="wrong"))


def test_server_errors_are_transient_and_retried_until_they_pass(stub):
    state, url = stub
    good = json.dumps({"OutBlock_1": openapi_rows("KOSPI")})
    state.answers[("stk_bydd_trd", "20210104")] = [(503, "busy"), (502, "bad gateway"), (200, good)]
    chain = SourceChain([source(url)], min_gap_seconds=0, backoff_seconds=0, sleep=lambda _s: None)
    frame = chain.fetch(Request("KOSPI", (DAY,)), dt.datetime(2021, 1, 6, tzinfo=dt.UTC)).data
    assert len(frame) > 800 and chain.calls["krx_openapi"] == 3


def test_a_timeout_is_transient(stub):
    state, url = stub
    state.delay = 0.5
    with pytest.raises(TransientSourceError, match="Timeout"):
        source(url, timeout=0.1).fetch_raw(Query(DAY, "KOSPI"))


def test_an_empty_answer_for_a_trading_day_is_an_error(stub):
    _, url = stub
    with pytest.raises(EmptyAnswerError):
        fetch(source(url))


def test_a_holiday_shaped_answer_with_zero_prices_is_empty(stub):
    state, url = stub
    rows = [{**row, "TDD_CLSPRC": "0", "TDD_OPNPRC": "0", "TDD_HGPRC": "0", "TDD_LWPRC": "0"}
            for row in openapi_rows("KOSPI")[:20]]
    state.answers[("stk_bydd_trd", "20210104")] = [(200, json.dumps({"OutBlock_1": rows}))]
    with pytest.raises(EmptyAnswerError, match="every close is zero"):
        fetch(source(url))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html>maintenance</html>", "not JSON"),
        (json.dumps({"result": []}), "no OutBlock_1"),
        (json.dumps({"OutBlock_1": [{"ISU_CD": "005930", "TDD_CLSPRC": "abc", "TDD_OPNPRC": "1",
                                     "TDD_HGPRC": "1", "TDD_LWPRC": "1", "ACC_TRDVOL": "1"}]}), "unreadable number"),
        (json.dumps({"OutBlock_1": [{"ISU_CD": "005930", "TDD_CLSPRC": "100"}]}), "lacks price fields"),
    ],
)
def test_malformed_answers_are_bad_data_that_say_what_came(stub, body, message):
    state, url = stub
    state.answers[("stk_bydd_trd", "20210104")] = [(200, body)]
    with pytest.raises(BadDataError, match=message):
        fetch(source(url))


def test_the_day_is_due_only_the_next_morning():
    src = KrxOpenApiSource(KEY, "http://127.0.0.1:9", 1)
    published = src.available_at(DAY)
    assert published.isoformat() == "2021-01-05T08:00:00+09:00"


def test_an_answer_stamped_with_another_day_is_refused(stub):
    state, url = stub
    rows = [{**row, "BAS_DD": "20201230"} for row in openapi_rows("KOSPI")]
    state.answers[("stk_bydd_trd", "20210104")] = [(200, json.dumps({"OutBlock_1": rows}))]
    with pytest.raises(BadDataError, match="the answer is for 20201230, not 20210104"):
        fetch(source(url))
