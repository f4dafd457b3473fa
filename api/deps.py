"""Dependencies shared by the routes: settings read once, storage on MONGODB_URI."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import Depends, HTTPException

from lib.config import Settings, load_settings
from lib.errors import ConfigError
from lib.storage import Storage, get_client


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()


def get_storage(settings: Annotated[Settings, Depends(get_settings)]) -> Storage:
    """Storage for a request; a missing MONGODB_URI is a 503 that says what to set."""
    uri = settings.mongodb_uri_value
    if uri is None:
        raise HTTPException(status_code=503, detail="MONGODB_URI is not set on the server")
    try:
        return Storage(get_client(uri), settings.mongodb_db_prefix)
    except ConfigError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None
