"""Dependencies shared by the routes: the app's settings, storage on MONGODB_URI, the plugin registries, the
clock, and access rules (X-API-Key, the per-key rate limit). Route packages import these."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.errors import ApiError
from lib.calendar import TradingCalendar
from lib.config import Settings
from lib.errors import ConfigError
from lib.log import KST
from lib.screener import Registry
from lib.storage import Storage, get_client

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
    """Storage on MONGODB_URI, with the short API timeout; a missing MONGODB_URI is a 503 naming it."""
    storage = getattr(request.app.state, "storage", None)
    if storage is not None:
        return storage
    settings: Settings = request.app.state.settings
    uri = settings.mongodb_uri_value
    if uri is None:
        raise ApiError(503, "MONGODB_URI is not set on the server: set it in .env", code="not_configured")
    try:
        storage = Storage(get_client(uri, settings.api_db_timeout_seconds), settings.mongodb_db_prefix)
    except ConfigError as exc:
        raise ApiError(503, str(exc), code="not_configured") from None
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
    limit with `charge` once the request is valid, so a rejected request does not use it up)."""
    keys = settings.api_key_values
    if not keys:
        raise ApiError(503, "POST /ai/analysis is disabled: set API_KEYS on the server", code="not_configured")
    if not key_matches(api_key, keys):
        raise ApiError(401, "a valid X-API-Key header is required (one of the server's API_KEYS)")
    return key_id(api_key or "")


def charge(storage: Storage, settings: Settings, ident: str, now: dt.datetime) -> None:
    """Count one request against the key's hourly limit (shared by every worker); 429 over it."""
    limit = settings.ai_rate_limit_per_hour
    count, retry_after = storage.hit_rate_limit(f"ai:{ident}", now, 3600)
    if count > limit:
        raise ApiError(
            429,
            f"rate limit of {limit} requests per hour reached for this key; retry in {retry_after} s",
            {"limit": limit, "window_seconds": 3600, "retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


StorageDep = Annotated[Storage, Depends(get_storage)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
CalendarDep = Annotated[TradingCalendar, Depends(get_calendar)]
NowDep = Annotated[dt.datetime, Depends(get_now)]


def app_state(request: Request, name: str) -> Any:
    """Something the app was created with (prompt registry, LLM factory)."""
    return getattr(request.app.state, name)
