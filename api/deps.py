"""Dependencies shared by the routes: the app's settings, storage on MONGODB_URI, the plugin registries, the
clock, and access rules (X-API-Key, the per-key rate limit). Route packages import these."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.errors import ApiError
from lib.analysis.screener import Registry
from lib.config import Settings
from lib.errors import ConfigError, TransientSourceError
from lib.log import KST, get_logger
from lib.spine.calendar import TradingCalendar
from lib.storage import Storage, get_client

log = get_logger("api")

API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="one of the keys in the server's API_KEYS setting"
)


def get_settings(request: Request) -> Settings:
    """The settings the app was created with (read once)."""
    return request.app.state.settings


def get_registry(request: Request) -> Registry:
    """The strategies found in strategies/ when the app was created."""
    return request.app.state.registry


def get_calendar(request: Request) -> TradingCalendar:
    """The KRX calendar with the settings' overrides, built once."""
    return request.app.state.calendar


def get_now(request: Request) -> dt.datetime:
    """The current moment in Seoul (the app's clock, replaceable in tests and the demo)."""
    return request.app.state.clock().astimezone(KST)


def get_storage(request: Request) -> Storage:
    """Storage on MONGODB_URI, with the short API timeout (API_DB_TIMEOUT_SECONDS) on connecting and on every
    operation; a missing MONGODB_URI is a 503 naming it."""
    storage = getattr(request.app.state, "storage", None)
    if storage is not None:
        return storage
    settings: Settings = request.app.state.settings
    uri = settings.mongodb_uri_value
    if uri is None:
        raise ApiError(503, "MONGODB_URI is not set on the server: set it in .env", code="not_configured")
    try:
        seconds = settings.api_db_timeout_seconds  # bounds connecting and every operation: a 503, never a hang
        storage = Storage(get_client(uri, seconds, seconds), settings.mongodb_db_prefix)
    except ConfigError as exc:
        raise ApiError(503, str(exc), code="not_configured") from None
    except TransientSourceError as exc:
        # e.g. the mongodb+srv:// name did not resolve; the next request tries again. Hosts stay in the log only.
        log.error("%s", exc)
        raise ApiError(503, "the database is not reachable; try again shortly") from None
    request.app.state.storage = storage
    return storage


def key_matches(given: str | None, keys: list[str]) -> bool:
    """Whether `given` is one of `keys`, compared in constant time (every key is compared)."""
    if not given:
        return False
    supplied = given.encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(supplied, key.encode())
    return found


def key_id(key: str) -> str:
    """A stable, non-reversible name for an API key (what the rate limit and results store)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def caller_key(
    settings: Annotated[Settings, Depends(get_settings)],
    api_key: Annotated[str | None, Security(API_KEY_HEADER)] = None,
) -> str | None:
    """The caller's API key when it is valid, else None (no error: for routes where a key is optional)."""
    return api_key if key_matches(api_key, settings.api_key_values) else None


def read_access(
    settings: Annotated[Settings, Depends(get_settings)],
    api_key: Annotated[str | None, Security(API_KEY_HEADER)] = None,
) -> None:
    """Read routes are open unless API_KEYS_FOR_READS=true, then they need a valid X-API-Key."""
    if settings.api_keys_for_reads and not key_matches(api_key, settings.api_key_values):
        raise ApiError(401, "this server requires X-API-Key for every route (API_KEYS_FOR_READS=true)")


def require_key(settings: Settings, api_key: str | None, what: str) -> str:
    """A costly read needs a valid X-API-Key even when reads are open: 403 when the server has no API_KEYS (no
    key could unlock it), 401 without a valid key; returns the key's id."""
    keys = settings.api_key_values
    if not keys:
        raise ApiError(403, f"{what} is off on this server: it needs an X-API-Key and API_KEYS is not set")
    if not key_matches(api_key, keys):
        raise ApiError(401, f"{what} needs a valid X-API-Key header (one of the server's API_KEYS)")
    return key_id(api_key or "")


def spend_access(
    settings: Annotated[Settings, Depends(get_settings)],
    api_key: Annotated[str | None, Security(API_KEY_HEADER)] = None,
) -> str:
    """Routes that spend money need a valid X-API-Key; returns the key's id (the route charges the hourly
    limit through a `KeyBudget` once the request is valid, so a rejected request does not use it up)."""
    keys = settings.api_key_values
    if not keys:
        raise ApiError(503, "POST /ai/analysis is disabled: set API_KEYS on the server", code="not_configured")
    if not key_matches(api_key, keys):
        raise ApiError(401, "a valid X-API-Key header is required (one of the server's API_KEYS)")
    return key_id(api_key or "")


WINDOW_SECONDS = 3600


def rate_limited(message: str, limit: int, retry_after: int, **details: int) -> ApiError:
    """The 429 of an hourly limit (the AI model calls, the compute meter), with Retry-After."""
    return ApiError(
        429, message,
        {"limit": limit, "window_seconds": WINDOW_SECONDS, "retry_after_seconds": retry_after, **details},
        headers={"Retry-After": str(retry_after)},
    )


class KeyBudget:
    """A key's model calls per hour (AI_RATE_LIMIT_PER_HOUR), counted in MongoDB so every worker shares them:
    a request reserves all the calls its models may make before asking any, and gets back the ones not made."""

    def __init__(self, storage: Storage, settings: Settings, ident: str, now: dt.datetime) -> None:
        self.storage, self.limit, self.now = storage, settings.ai_rate_limit_per_hour, now
        self.bucket = f"ai:{ident}"
        self.attempts = settings.llm_parse_retries + 1

    def reserve(self, calls: int, models: int) -> None:
        """Take `calls` from this hour's limit; 429 (with Retry-After) when fewer are left."""
        count, retry_after = self.storage.access.reserve_rate_limit(
            self.bucket, self.now, WINDOW_SECONDS, calls, self.limit
        )
        if count is not None:
            return
        left = max(0, self.limit - self.storage.access.rate_limit_count(self.bucket, self.now, WINDOW_SECONDS))
        fewer = " or ask fewer models" if models > 1 else ""
        raise rate_limited(
            f"rate limit of {self.limit} model calls per hour reached for this key: this request may make {calls} "
            f"({models} model(s) x {self.attempts} attempts, LLM_PARSE_RETRIES re-asks included) and {left} "
            f"are left; retry in {retry_after} s{fewer}",
            self.limit, retry_after, calls_needed=calls, calls_left=left,
        )

    def refund(self, calls: int) -> None:
        """Give back reserved calls that were not made."""
        self.storage.access.release_rate_limit(self.bucket, self.now, WINDOW_SECONDS, calls)


BUSY_RETRY_SECONDS = 5  # what a refused compute-heavy request is told to wait


class ComputeSlots:
    """At most `size` compute-heavy requests at once in this process; one more is refused at once (503 with
    Retry-After) instead of waiting, so that queued computations cannot hold every worker thread."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = threading.BoundedSemaphore(size)

    @contextmanager
    def slot(self, what: str) -> Iterator[None]:
        """Hold a slot while computing; 503 at once when every slot is busy."""
        if not self._free.acquire(blocking=False):
            raise ApiError(
                503, f"the server is busy computing other requests ({self.size} at once per worker); retry {what} "
                f"in {BUSY_RETRY_SECONDS} s (default parameters and repeated requests are served from stored "
                "answers and never wait)",
                {"slots": self.size, "retry_after_seconds": BUSY_RETRY_SECONDS}, code="busy",
                headers={"Retry-After": str(BUSY_RETRY_SECONDS)},
            )
        try:
            yield
        finally:
            self._free.release()


def client_id(request: Request, settings: Settings, api_key: str | None) -> str:
    """Who a metered request is charged to: its valid API key's id, else its IP address (hashed)."""
    if key_matches(api_key, settings.api_key_values):
        return f"key:{key_id(api_key or '')}"
    return f"ip:{key_id(request.client.host if request.client else 'unknown')}"


class ComputeAccess:
    """A compute-heavy read of one request: a slot of this process and one unit of the client's hourly budget
    (COMPUTE_RATE_LIMIT_PER_HOUR, counted in MongoDB like the AI limit, so shared by every worker)."""

    def __init__(self, slots: ComputeSlots, storage: Storage, settings: Settings, ident: str, now: dt.datetime):
        self.slots, self.storage, self.settings, self.ident, self.now = slots, storage, settings, ident, now

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Take a slot (503 when none is free), then charge the client (429 over its budget), then compute."""
        with self.slots.slot(what):
            limit = self.settings.compute_rate_limit_per_hour
            count, retry_after = self.storage.access.hit_rate_limit(f"compute:{self.ident}", self.now, WINDOW_SECONDS)
            if count > limit:
                raise rate_limited(
                    f"limit of {limit} compute-heavy requests per hour reached for this client "
                    f"(COMPUTE_RATE_LIMIT_PER_HOUR); retry in {retry_after} s, or use the default parameters "
                    "(stored answers, not metered)",
                    limit, retry_after,
                )
            yield


def compute_access(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    storage: Annotated[Storage, Depends(get_storage)],
    now: Annotated[dt.datetime, Depends(get_now)],
    api_key: Annotated[str | None, Security(API_KEY_HEADER)] = None,
) -> ComputeAccess:
    """The compute slots of this process and the caller's meter, for a route that may compute."""
    return ComputeAccess(request.app.state.compute_slots, storage, settings, client_id(request, settings, api_key),
                         now)


StorageDep = Annotated[Storage, Depends(get_storage)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
CalendarDep = Annotated[TradingCalendar, Depends(get_calendar)]
NowDep = Annotated[dt.datetime, Depends(get_now)]
ComputeDep = Annotated[ComputeAccess, Depends(compute_access)]


def app_state(request: Request, name: str) -> Any:
    """Something the app was created with (prompt registry, LLM factory)."""
    return getattr(request.app.state, name)
