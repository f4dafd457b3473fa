"""The API process: `gunicorn -c deploy/gunicorn.conf.py main:app` (the config sets up the log lines, one
access line per request included, on stderr). The app is built in api/app.py. A bad setting stops it with
one line, exit 2."""

from __future__ import annotations

import sys

from fastapi import FastAPI

from api.app import create_app
from lib.config import load_settings
from lib.errors import ConfigError
from lib.storage.uri import checked_uri


def build() -> FastAPI:
    """The app on the settings of .env and the environment."""
    try:
        settings = load_settings()
        if settings.mongodb_uri_value:  # an invalid option value (tls=maybe) would be a 503 on every request
            checked_uri(settings.mongodb_uri_value)
        return create_app(settings)
    except ConfigError as exc:
        sys.stderr.write(f"stock-api: {exc}\n")
        raise SystemExit(2) from None


app = build()
