"""gunicorn settings for the API: `gunicorn -c deploy/gunicorn.conf.py main:app` (deploy/stock-api.service).

Every value can be changed through the environment without editing this file."""

import multiprocessing
import os
import sys
from pathlib import Path

# Local by default: put nginx (TLS) in front, or set API_BIND=0.0.0.0:8000 to expose it directly.
bind = os.environ.get("API_BIND", "127.0.0.1:8000")
# The usual 2 x cores + 1, capped so a big VM does not open dozens of MongoDB connection pools.
workers = int(os.environ.get("API_WORKERS", min(multiprocessing.cpu_count() * 2 + 1, 9)))
# uvicorn.workers is deprecated since uvicorn 0.30; the uvicorn-worker package is its successor.
worker_class = "uvicorn_worker.UvicornWorker"
# A worker silent this long is restarted. LLM calls run in a thread pool and do not block the heartbeat,
# but keep it above LLM_TIMEOUT_SECONDS x (LLM_SDK_RETRIES + 1) anyway.
timeout = int(os.environ.get("API_TIMEOUT_SECONDS", 180))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak never grows unbounded.
max_requests = 5000
max_requests_jitter = 500
# No gunicorn/uvicorn access log: UvicornWorker ignores access_log_format (no duration), so the app writes one
# line per request itself (api/middleware.py: method, path without query, status, duration in ms, client) to
# stderr, with the pipeline's other lines; LOG_LEVEL=WARNING silences it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("API_LOG_LEVEL", "info")
# Only trust X-Forwarded-* from a proxy on this machine.
forwarded_allow_ips = "127.0.0.1"
proc_name = "stock-api"


def on_starting(server):
    """Check the settings once, in the master before any worker starts: a bad one is one line and exit 2
    (a worker that exits at import would be restarted forever, each with a traceback). Then send the app's
    log lines to stderr in the pipeline's format (the workers inherit it)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from lib.config import check_api_settings, load_settings
    from lib.errors import ConfigError
    from lib.log import setup_logging
    from lib.storage.uri import checked_uri

    try:
        settings = load_settings()
        check_api_settings(settings)
        if settings.mongodb_uri_value:  # an invalid option value (tls=maybe) would be a 503 on every request
            checked_uri(settings.mongodb_uri_value)
        setup_logging("api", settings.log_level, settings.log_warnings_file)
    except ConfigError as exc:
        sys.stderr.write(f"stock-api: {exc}\n")
        sys.exit(2)
