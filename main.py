"""The API process: `gunicorn -k uvicorn.workers.UvicornWorker main:app` (see deploy/). Routers live in api/."""

from __future__ import annotations

from fastapi import FastAPI

from api import dashboard, etf, health, screener, status

app = FastAPI(title="KRX stock pipeline", version="0.1.0")
app.include_router(health.router)
app.include_router(status.router)
app.include_router(screener.router)
app.include_router(etf.router)
app.include_router(dashboard.router)
