"""What a hostile or careless client tries at the HTTP level: huge bodies (declared or streamed) without a key,
docs under read keys, content sniffing, HEAD probes, short keys, paths out of the served folders. Both on the
ASGI app and on a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.docs import VENDOR_DIR
from lib.config import PROJECT_ROOT
from tests.api.conftest import KEY, api_settings
from tests.browser import live_server

LIMIT = 65_536  # the default API_MAX_BODY_BYTES
AUTH = {"X-API-Key": KEY}
MB = 2**20


@pytest.fixture(scope="module")
def app():
    """The app on an empty in-memory database (no route here needs data)."""
    return create_app(api_settings())


@pytest.fixture(scope="module")
def client(app) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def call(app, method: str, path: str, headers: dict[str, str], chunks) -> tuple[int, dict[str, str], bytes, int]:
    """Run one request through the ASGI app with the body coming from `chunks` (an iterator, read lazily, as a
    server hands it over); returns status, headers, body and how many body bytes the app pulled."""
    pulled = 0
    answer: dict = {"headers": [], "body": b""}

    async def receive():
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        if message["type"] == "http.response.start":
            answer.update(status=message["status"], headers=message.get("headers", []))
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    raw, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": raw, "raw_path": raw.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    names = {k.decode().lower(): v.decode() for k, v in answer["headers"]}
    return answer["status"], names, answer["body"], pulled


def endless(piece: int = 16_384, total: int = 64 * MB):
    """A body of `total` bytes (1,000 times the limit) that exists only as it is read."""
    block = b"x" * piece
    for _ in range(total // piece):
        yield block


# --- bodies -------------------------------------------------------------------------------------------------


def test_a_declared_oversized_body_is_refused_at_once_without_reading_a_byte(app):
    headers = {"content-type": "application/json", "content-length": str(64 * MB)}
    status, answer, body, pulled = call(app, "POST", "/ai/analysis", headers, endless())
    assert status == 413 and pulled == 0
    error = json.loads(body)["error"]
    assert error["code"] == "too_large" and f"{64 * MB} bytes" in error["message"] and str(LIMIT) in error["message"]
    assert answer["connection"] == "close" and answer["x-content-type-options"] == "nosniff"


def test_a_streamed_body_without_a_key_is_read_only_to_the_limit(app):
    # Chunked (no Content-Length): the 64 MB body is counted as it comes and abandoned past the limit.
    status, answer, body, pulled = call(app, "POST", "/ai/analysis", {"content-type": "application/json"}, endless())
    assert status == 413
    assert LIMIT < pulled <= LIMIT + 16_384
    assert json.loads(body)["error"]["code"] == "too_large" and answer["connection"] == "close"


def test_a_body_that_lies_about_its_length_is_still_cut_at_the_limit(app):
    headers = {"content-type": "application/json", "content-length": "100", **AUTH}
    status, _, body, pulled = call(app, "POST", "/ai/analysis", headers, endless())
    assert status == 413 and pulled <= LIMIT + 16_384


def test_a_body_within_the_limit_reaches_the_route(client, make_client):
    small = client.post("/ai/analysis", json={"prompt": "technical_summary"}, headers=AUTH)
    assert small.status_code == 422  # the route read and judged it
    tight = make_client(api_max_body_bytes=2048)
    big = {"prompt": "technical_summary", "tickers": ["005930"], "strategy_name": "x" * 3000}
    assert tight.post("/ai/analysis", json=big, headers=AUTH).status_code == 413
    assert "413" in client.get("/openapi.json").json()["paths"]["/ai/analysis"]["post"]["responses"]


def _upload(base: str, head: str, frame: bytes, total: int) -> tuple[int, bytes]:
    """Send `head` then `frame` repeatedly up to `total` bytes, stopping as soon as the server answers (as curl
    does); returns the bytes sent and the answer's first line."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(head.encode())
    sent = 0
    try:
        while sent < total and not select.select([sock], [], [], 0)[0]:
            sock.sendall(frame)
            sent += len(frame)
    except OSError:
        pass  # the server closed the connection: what was sent so far is all it got
    try:
        first = sock.recv(4096).split(b"\r\n")[0]
    finally:
        sock.close()
    return sent, first


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def test_a_real_server_refuses_a_100_mb_upload_without_a_key_and_does_not_grow(app):
    peak = [0]
    done = threading.Event()

    def sample() -> None:  # the server runs in this process: its memory is ours
        while not done.is_set():
            peak[0] = max(peak[0], _rss_kb())
            time.sleep(0.005)

    frame = b"x" * 65_536
    chunk = b"%x\r\n%s\r\n" % (len(frame), frame)
    with live_server(app) as base:
        before = _rss_kb()
        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            head = "POST /ai/analysis HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            declared = _upload(base, head + f"Content-Length: {100 * MB}\r\n\r\n", frame, 100 * MB)
            chunked = _upload(base, head + "Transfer-Encoding: chunked\r\n\r\n", chunk, 100 * MB)
        finally:
            done.set()
            sampler.join()
    for sent, first in (declared, chunked):
        assert first.startswith(b"HTTP/1.1 413"), first
        assert sent < 20 * MB  # stopped by the server's answer and close, not by the client
    assert peak[0] - before < 30 * 1024, f"the server grew by {(peak[0] - before) // 1024} MB"


# --- docs under read keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc"])
def test_the_api_description_follows_api_keys_for_reads(make_client, client, path):
    locked = make_client(api_keys_for_reads=True)
    refused = locked.get(path)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    assert locked.get(path, headers=AUTH).status_code == 200
    assert client.get(path).status_code == 200  # open while reads are


def test_the_docs_libraries_stay_open_as_they_hold_no_data(make_client):
    locked = make_client(api_keys_for_reads=True)
    assert locked.get("/docs/assets/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_reads_locked_with_no_key_configured_is_warned_at_startup(caplog):
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        create_app(api_settings(api_keys="", api_keys_for_reads=True))
    assert any("API_KEYS_FOR_READS=true but API_KEYS is empty" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_everything_from_this_server(client, page):
    response = client.get(page)
    html = response.text
    assert not re.search(r"https?://|//[a-z]", html, re.IGNORECASE), "the page names another host"
    loaded = re.findall(r'(?:src|href|spec-url)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
    assert any(u.endswith(".js") for u in loaded) and "/openapi.json" in loaded
    for url in loaded:
        assert url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        if url.startswith("/docs/assets/"):
            assert asset.content == (VENDOR_DIR / url.removeprefix("/docs/assets/")).read_bytes()
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy and "connect-src 'self'" in policy


def test_the_vendored_docs_libraries_are_the_recorded_releases_with_their_licences(client):
    readme = (VENDOR_DIR / "README.md").read_text()
    for name in ("swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css", "redoc/redoc.standalone.js"):
        assert hashlib.sha256((VENDOR_DIR / name).read_bytes()).hexdigest() in readme, name
    assert client.get("/docs/assets/swagger-ui/swagger-ui.css").headers["content-type"] == "text/css; charset=utf-8"
    assert "Apache License" in client.get("/docs/assets/swagger-ui/LICENSE").text
    assert "Rebilly" in client.get("/docs/assets/redoc/LICENSE").text


# --- headers and HEAD ---------------------------------------------------------------------------------------


def test_every_answer_says_nosniff_errors_included(client):
    answers = [
        client.get("/strategies"), client.get("/nowhere"), client.get("/stocks?limit=0"),
        client.post("/ai/analysis", json={}), client.put("/stocks"), client.get("/dashboard"),
        client.post("/ai/analysis", content=b"x" * (LIMIT + 1)),
    ]
    assert [a.status_code for a in answers] == [200, 404, 422, 401, 405, 200, 413]
    # A storage that fails every call with a bug: Starlette's outermost handler answers the 500.
    broken = TestClient(create_app(api_settings(), storage=object()), raise_server_exceptions=False)  # type: ignore[arg-type]
    answers.append(broken.get("/stocks"))
    assert answers[-1].status_code == 500
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.request.url


def test_head_answers_every_get_route_like_get_without_a_body(make_client):
    client = make_client()
    paths = client.get("/openapi.json").json()["paths"]
    urls = ["/dashboard", "/dashboard/js/main.js", "/docs", "/openapi.json", "/docs/assets/redoc/LICENSE"]
    samples = {"{ticker}": "005930", "{name}": "macd_golden_cross", "{result_id}": "0" * 24}
    for path, operations in paths.items():
        if "get" in operations:
            for placeholder, value in samples.items():
                path = path.replace(placeholder, value)
            urls.append(path + ("?strategy_name=macd_golden_cross" if path == "/screener" else ""))
    for url in urls:
        get, head = client.get(url), client.head(url)
        assert head.status_code == get.status_code, url
        assert head.content == b"", url
        assert head.headers["content-type"] == get.headers["content-type"], url
        assert head.headers.get("content-length") == get.headers.get("content-length"), url
    assert client.head("/health").status_code == 200 and client.head("/dashboard").status_code == 200


def test_head_on_a_real_server_keeps_the_connection_usable(app):
    with live_server(app) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"HEAD /dashboard HTTP/1.1\r\nHost: t\r\n\r\nGET /strategies HTTP/1.1\r\nHost: t\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data.partition(b"HTTP/1.1 200")[2].partition(b"HTTP/1.1 200")[2]:
                chunk = sock.recv(65_536)
                if not chunk:
                    break
                data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"content-length: " in head
    assert rest.startswith(b"HTTP/1.1 200")  # the next answer follows at once: HEAD sent no body


# --- under gunicorn, as deployed: keys and the access log -----------------------------------------------------

GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "main:app"]


def _env(tmp_path, **values: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MONGODB_URI": "mongomock://", "API_WORKERS": "1",
            **values}


def test_a_short_api_key_stops_the_api_at_startup_with_one_line(tmp_path):
    env = _env(tmp_path, API_KEYS=f"{'k' * 24},a", API_BIND="127.0.0.1:0")
    for command in (GUNICORN, [sys.executable, "-c", "import main"]):
        run = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 2, run.stderr
        lines = [line for line in run.stderr.splitlines() if "stock-api:" in line]
        assert lines == [
            "stock-api: setting API_KEYS: key 2 of 2 is only 1 character long; each key needs at least 16 (a short "
            "key can be guessed): make one with `openssl rand -hex 24`; fix it in .env or the environment"
        ]
        assert "Traceback" not in run.stderr and "k" * 24 not in run.stderr


def test_an_invalid_mongodb_uri_option_stops_the_api_at_startup_not_every_request(tmp_path):
    env = _env(tmp_path, API_KEYS="k" * 24, API_BIND="127.0.0.1:0",
               MONGODB_URI="mongodb://app:s3cret@127.0.0.1:1/?tls=maybe")
    for command in (GUNICORN, [sys.executable, "-c", "import main"]):
        run = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 2, run.stderr
        lines = [line for line in run.stderr.splitlines() if "stock-api:" in line]
        assert lines == [
            "stock-api: MONGODB_URI option tls: The value of tls must be 'true' or 'false'; fix it in .env"
        ], run.stderr
        assert "Traceback" not in run.stderr and "s3cret" not in run.stderr


def test_under_gunicorn_each_request_is_one_log_line_with_its_duration(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = _env(tmp_path, API_KEYS=KEY, API_BIND=f"127.0.0.1:{port}")
    log = tmp_path / "output.log"  # stdout and stderr: gunicorn's access log "-" would be stdout
    with log.open("w") as output:
        server = subprocess.Popen(GUNICORN, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:  # the master listens at once; the request then waits for the worker to import the app
                try:
                    first = httpx.head(f"http://127.0.0.1:{port}/health", timeout=120)
                    break
                except httpx.ConnectError:
                    assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            second = httpx.get(f"http://127.0.0.1:{port}/strategies?token=s3cret", headers=AUTH, timeout=30)
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert (first.status_code, second.status_code) == (200, 200)
    lines = [line for line in log.read_text().splitlines() if " ms " in line or "HTTP/1.1" in line]
    assert len(lines) == 2, lines  # no second line from uvicorn's or gunicorn's own access log
    assert re.fullmatch(r"\S+ api INFO HEAD /health 200 \d+\.\d ms 127\.0\.0\.1", lines[0])
    assert re.fullmatch(r"\S+ api INFO GET /strategies 200 \d+\.\d ms 127\.0\.0\.1", lines[1])
    assert KEY not in log.read_text() and "s3cret" not in log.read_text()


# --- paths out of the served folders ------------------------------------------------------------------------

TRAVERSALS = [
    "/dashboard/../../etc/passwd", "/dashboard/%2e%2e/%2e%2e/etc/passwd", "/dashboard/..%2f..%2fmain.py",
    "/dashboard/vendor/../../main.py", "/dashboard//etc/passwd", "/dashboard/%2fetc%2fpasswd",
    "/docs/assets/../../../etc/passwd", "/docs/assets/%2e%2e/docs.py", "/docs/assets/swagger-ui/../../app.py",
    "/docs/assets/..%5c..%5capp.py", "/docs/assets//etc/passwd", "/docs/assets/swagger-ui/%2e%2e%2f%2e%2e%2fdocs.py",
]


@pytest.mark.parametrize("raw", TRAVERSALS)
def test_a_path_out_of_the_served_folders_is_404_never_a_file(app, raw):
    from urllib.parse import unquote

    # As a server hands it over: `path` percent-decoded, dot segments kept.
    status, answer, body, _ = call(app, "GET", unquote(raw), {}, iter(()))
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
    assert b"root:" not in body and b"import" not in body and answer["content-type"] == "application/json"


def test_traversal_paths_sent_verbatim_to_a_real_server_are_404(app):
    with live_server(app) as base:
        host, port = base.removeprefix("http://").split(":")
        for raw in TRAVERSALS:
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(f"GET {raw} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
                data = b""
                while chunk := sock.recv(65_536):
                    data += chunk
            assert data.startswith(b"HTTP/1.1 404"), (raw, data[:80])
            assert b"root:" not in data and b"import " not in data, raw


# --- the access log -----------------------------------------------------------------------------------------


def test_each_request_is_one_access_line_with_its_duration_and_no_secret(client, caplog):
    with caplog.at_level(logging.INFO, logger="pipeline.api.access"):
        client.get("/strategies?api_key=s3cret-in-query", headers=AUTH)
        client.head("/dashboard")
        client.post("/ai/analysis", content=b"x" * (LIMIT + 1))
        client.get("/nowhere%0aFORGED 200")
    lines = [r.getMessage() for r in caplog.records if r.name == "pipeline.api.access"]
    assert len(lines) == 4
    assert re.fullmatch(r"GET /strategies 200 \d+\.\d ms testclient", lines[0])
    assert re.fullmatch(r"HEAD /dashboard 200 \d+\.\d ms testclient", lines[1])
    assert re.fullmatch(r"POST /ai/analysis 413 \d+\.\d ms testclient", lines[2])
    assert re.fullmatch(r"GET /nowhere%0aFORGED%20200 404 \d+\.\d ms testclient", lines[3])  # one line, as sent
    text = "\n".join(lines)
    assert KEY not in text and "s3cret" not in text
