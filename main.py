"""The API process: `gunicorn -c deploy/gunicorn.conf.py main:app`. The app is built in api/app.py; its log
lines (one access line per request included) go to stderr. A bad setting stops it with one line, exit 2."""

from __future__ import annotations

import sys

from fastapi import FastAPI

from api.app import create_app
from lib.config import load_settings
from lib.errors import ConfigError
from lib.log import setup_logging


def build() -> FastAPI:
    """The app on the settings of .env and the environment, with the pipeline's log format."""
    try:
        settings = load_settings()
        setup_logging("api", settings.log_level, settings.log_warnings_file)
    except ConfigError as exc:
        sys.stderr.write(f"stock-api: {exc}\n")
        raise SystemExit(2) from None
    return create_app(settings)


app = build()
