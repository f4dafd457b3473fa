"""OpenDART as the tests need it: real recorded rows (tests/fixtures/dart) served by day and page, in-process
(`FakeDart`, the reader's source) or over HTTP on 127.0.0.1 (`serve_dart`, for the client), with status codes
queued on purpose. Nothing here touches the network."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lib.markets.krx.dart_client import parse_corp_codes, parse_list

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dart"
SAMSUNG_DAY = dt.date(2022, 4, 28)  # OpenDartReader's users guide: Samsung's 17 filings of that day
MARKET_DAY = dt.date(2020, 7, 1)  # the same guide: the whole market's filings of that day (the rows shown whole)


def recorded(name: str) -> list[dict[str, Any]]:
    """A fixture's list.json rows."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def corp_xml() -> bytes:
    """The fixture's CORPCODE.xml (real rows, one of them an unlisted company)."""
    return (FIXTURES / "CORPCODE.xml").read_bytes()


def answer(rows: list[dict[str, Any]], page_no: int, size: int) -> dict[str, Any]:
    """list.json's answer for a page of `rows` (013 when there is none)."""
    if not rows:
        return {"status": "013", "message": "조회된 데이타가 없습니다."}
    total_page = (len(rows) + size - 1) // size
    return {"status": "000", "message": "정상", "page_no": page_no, "page_count": size, "total_count": len(rows),
            "total_page": total_page, "list": rows[(page_no - 1) * size: page_no * size]}


class FakeDart:
    """The reader's source over recorded rows by day, `size` rows a page; `failures` answers chosen calls with an
    error status."""

    def __init__(self, days: dict[dt.date, list[dict[str, Any]]], size: int = 5,
                 failures: dict[int, str] | None = None) -> None:
        self.days = days
        self.size = size
        self.failures = dict(failures or {})  # list call number (1-based) -> the status code it answers
        self.calls: list[tuple[dt.date, int]] = []
        self.corp_calls = 0

    def corp_codes(self) -> list[dict[str, str]]:
        self.corp_calls += 1
        return parse_corp_codes(corp_xml())

    def list_day(self, day: dt.date, page_no: int) -> dict[str, Any]:
        self.calls.append((day, page_no))
        if status := self.failures.pop(len(self.calls), None):
            return parse_list({"status": status, "message": "queued"}, f"{day}")
        return parse_list(answer(self.days.get(day, []), page_no, self.size), f"{day}")


class StubState:
    """What the HTTP stub served and will serve."""

    def __init__(self, days: dict[dt.date, list[dict[str, Any]]], size: int) -> None:
        self.days = days
        self.size = size
        self.statuses: list[str] = []  # list.json answers these status codes first
        self.requests: list[str] = []  # every path with its query string, key included
        self.url = ""


@contextlib.contextmanager
def serve_dart(days: dict[dt.date, list[dict[str, Any]]], size: int = 100) -> Iterator[StubState]:
    """OpenDART's corpCode.xml and list.json on 127.0.0.1; the API root is `state.url`."""
    state = StubState(days, size)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            state.requests.append(self.path)
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path.endswith("/corpCode.xml"):
                buffer = io.BytesIO()
                with zipfile.ZipFile(buffer, "w") as archive:
                    archive.writestr("CORPCODE.xml", corp_xml())
                self._send(buffer.getvalue(), "application/x-msdownload")
                return
            if state.statuses:
                body: dict[str, Any] = {"status": state.statuses.pop(0), "message": "stub"}
            else:
                day = dt.datetime.strptime(query["bgn_de"], "%Y%m%d").date()
                body = answer(state.days.get(day, []), int(query.get("page_no", 1)), state.size)
            self._send(json.dumps(body, ensure_ascii=False).encode(), "application/json;charset=UTF-8")

        def _send(self, payload: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
