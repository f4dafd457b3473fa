"""One JSON error shape for every route: `{"error": {"code", "message", "details"}}`.

Routes raise `ApiError`; `install_error_handlers` turns it, FastAPI's validation errors, unknown paths and an
unreachable database into that shape. `error_responses(...)` documents the statuses a route can answer in
OpenAPI. Other route packages (ETF, portfolio) import these."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException

from lib.log import get_logger

log = get_logger("api")

# Each status has one code word; clients branch on the code, people read the message.
CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "not_ready",
    413: "too_large",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    502: "provider_error",
    503: "unavailable",
    504: "provider_timeout",
}
DESCRIPTIONS: dict[int, str] = {
    400: "The body is not valid JSON",
    401: "X-API-Key is missing or not one of API_KEYS",
    403: "The server has no API_KEYS, so what this needs a key for is off; the message names the setting",
    404: "No such resource; the message lists what exists",
    409: "The data for that day is not analysed yet",
    413: "The request body is over the server's API_MAX_BODY_BYTES",
    422: "A parameter or the body is invalid; details name it",
    429: "Too many requests for this API key (or address); Retry-After says when to try again",
    502: "The LLM provider failed or its reply did not match the prompt's schema",
    503: "The database or the LLM is not available or not configured (the message names the setting), or every "
         "compute slot is busy (Retry-After says when to try again)",
    504: "The LLM provider did not answer in time",
}
MAX_TEXT = 300  # characters of any user-supplied or provider text echoed back


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, one line for people, and structured details."""

    code: str = Field(description="stable code word, e.g. not_found, invalid_request, rate_limited")
    message: str = Field(description="one line that says what to fix")
    details: dict[str, Any] | list[Any] | None = Field(default=None, description="structured context")


class ErrorBody(BaseModel):
    """Every error response of the API."""

    error: ErrorDetail


class ApiError(Exception):
    """An HTTP error answered in the common shape."""

    def __init__(
        self,
        status: int,
        message: str,
        details: dict[str, Any] | list[Any] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.code = code or CODES.get(status, "error")
        self.headers = headers


def clip(text: object, limit: int = MAX_TEXT) -> str:
    """A value as text no longer than `limit` (never echo a 100 KB input back)."""
    value = str(text)
    return value if len(value) <= limit else value[: limit - 3] + "..."


def not_found(kind: str, name: object, known: Sequence[str], hint: str = "") -> ApiError:
    """404 for an unknown name, listing (at most 20 of) the names that exist."""
    shown = list(known[:20])
    more = f" and {len(known) - len(shown)} more" if len(known) > len(shown) else ""
    listing = ", ".join(shown) if shown else "none"
    message = f"unknown {kind} {clip(name, 40)!r}; known: {listing}{more}"
    if hint:
        message += f" ({hint})"
    return ApiError(404, message, {"known": shown, "known_count": len(known)})


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each status documented with the common error body."""
    return {status: {"model": ErrorBody, "description": DESCRIPTIONS.get(status, "Error")} for status in statuses}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """An error in the common shape, for code outside the routes (the middleware)."""
    return JSONResponse(_body(status, message), status, headers=headers)


def _body(status: int, message: str, details: Any = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code or CODES.get(status, "error"), "message": message, "details": details}}


def _validation_details(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    # Never echo the input: only where and what, clipped.
    out = []
    for error in list(errors)[:10]:
        out.append(
            {"loc": [clip(part, 60) for part in error.get("loc", ())], "msg": clip(error.get("msg", "")),
             "type": clip(error.get("type", ""), 60)}
        )
    return out


def _validation_message(details: list[dict[str, Any]]) -> str:
    if not details:
        return "invalid request"
    first = details[0]
    where = ".".join(str(p) for p in first["loc"] if p not in ("query", "body", "path", "header"))
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"{where or 'request'}: {first['msg']}{more}"


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error in the common shape, including FastAPI's own and an unreachable database."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_body(exc.status, exc.message, exc.details, exc.code), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc.errors())
        broken = next((d for d in details if d["type"] == "json_invalid"), None)
        if broken is not None:
            # A body that does not parse is not a wrong value: 400, saying where the JSON breaks.
            at = broken["loc"][1] if len(broken["loc"]) > 1 else "?"
            message = f"the body is not valid JSON (it breaks at character {at}); send a JSON object"
            return JSONResponse(_body(400, message, [broken]), 400)
        if details and details[0]["loc"] == ["body"] and details[0]["type"] == "value_error":
            # A JSON object whose fields do not go together (the model's own check): say which, not "not an object".
            message = details[0]["msg"].removeprefix("Value error, ")
            return JSONResponse(_body(422, message, details), 422)
        if details and details[0]["loc"] == ["body"]:
            what = "missing" if details[0]["type"] == "missing" else "not a JSON object"
            return JSONResponse(_body(422, f"the body is {what}; send a JSON object (see /docs)", details), 422)
        return JSONResponse(_body(422, _validation_message(details), details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        generic = exc.status_code == 404 and exc.detail == "Not Found"  # Starlette's own: an unknown path
        message = "no such route; see /docs" if generic else clip(exc.detail)
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's words when the JSON parser fails other than on syntax: in practice, nesting too deep.
            message = "the body could not be parsed (JSON nested too deeply?); send a JSON object of plain values"
        return JSONResponse(_body(exc.status_code, message), exc.status_code, headers=exc.headers)

    @app.exception_handler(PyMongoError)
    async def _database(_request: Request, exc: PyMongoError) -> JSONResponse:
        # The driver's text names hosts and topology: log it, never answer it.
        log.error("database error: %s: %s", exc.__class__.__name__, clip(exc, 500))
        return JSONResponse(_body(503, "the database is not reachable; try again shortly"), 503)

    @app.exception_handler(Exception)
    async def _bug(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error: %s", exc.__class__.__name__)
        # Answered outside the app's middleware (Starlette's ServerErrorMiddleware), so the header is set here.
        headers = {"X-Content-Type-Options": "nosniff"}
        return JSONResponse(_body(500, "internal error; the server log has the details"), 500, headers=headers)
