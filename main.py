"""The API process: `gunicorn -c deploy/gunicorn.conf.py main:app`. The app is built in api/app.py."""

from __future__ import annotations

from api.app import create_app

app = create_app()
