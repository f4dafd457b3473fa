"""The app's HTTP guards, as pure ASGI middleware (nothing buffered, nothing read on the routes' behalf): a body
limit enforced before any route reads the body, HEAD answered as GET without the body, X-Content-Type-Options
on every answer, and one access-log line per request with its duration."""

from __future__ import annotations

import time

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from lib.log import get_logger

access_log = get_logger("api.access")
NOSNIFF = (b"x-content-type-options", b"nosniff")
MAX_LOGGED_PATH = 200  # characters of a request path written to the access log


class BodyTooLarge(StarletteHTTPException):
    """A body went past the limit while a route read it: 413 in the common shape, and the connection closes
    (the rest of the upload is never read)."""

    def __init__(self, limit: int) -> None:
        message = f"the request body is over this server's limit of {limit} bytes (API_MAX_BODY_BYTES)"
        super().__init__(413, message, headers={"Connection": "close"})


class BodyLimit:
    """Refuse a body over `max_bytes`: at once when Content-Length says so (before routing, the key check or a
    byte of the body), else when the bytes read so far pass it (a chunked or lying upload)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            limit = self.max_bytes
            message = f"the request body is {declared} bytes; this server takes at most {limit} (API_MAX_BODY_BYTES)"
            await error_response(413, message, {"Connection": "close"})(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def noted_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, noted_send)
        except BodyTooLarge as exc:
            # FastAPI's routes answer it through the error handlers; this is for a reader outside them.
            if started:
                raise
            await error_response(413, exc.detail, exc.headers)(scope, receive, send)


class HeadAsGet:
    """HEAD on any GET route: the GET's status and headers (Content-Length included), no body. Uptime monitors
    use HEAD, and FastAPI's routes answer only the methods they declare."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        # A copy: the server keeps its own scope saying HEAD.
        await self.app({**scope, "method": "GET"}, receive, headers_only)


class NoSniff:
    """X-Content-Type-Options: nosniff on every answer, so a browser never runs a JSON answer as a script."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == NOSNIFF[0] for name, _ in headers):
                    message = {**message, "headers": [*headers, NOSNIFF]}
            await send(message)

        await self.app(scope, receive, with_header)


class AccessLog:
    """One line per request: method, path (never the query, which may hold anything; never a header, so never
    the key), status, duration in ms from the request to the end of the answer, client address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = "-"  # no answer sent: the client went away first

        async def noted_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noted_send)
        except Exception:
            status = "500" if status == "-" else status  # Starlette's outermost handler answers it
            raise
        finally:
            client = scope.get("client")
            access_log.info(
                "%s %s %s %.1f ms %s", scope["method"][:16], logged_path(scope), status,
                (time.perf_counter() - start) * 1000, client[0] if client else "-",
            )


def logged_path(scope: Scope) -> str:
    """The request path as the client sent it (percent-encoding kept), escaped to one printable line."""
    raw = scope.get("raw_path")
    path = raw.split(b"?", 1)[0].decode("latin-1") if isinstance(raw, bytes) else scope.get("path", "")
    text = path.encode("unicode_escape").decode("ascii")
    return text if len(text) <= MAX_LOGGED_PATH else text[: MAX_LOGGED_PATH - 3] + "..."


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None  # the server refuses a malformed one before the app sees it; else the count still applies


def install_middleware(app: FastAPI, max_body_bytes: int) -> None:
    """Add the guards, the access log outermost (it times and sees everything, HEAD as HEAD)."""
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(NoSniff)
    app.add_middleware(AccessLog)
