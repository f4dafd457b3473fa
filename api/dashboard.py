"""GET /dashboard: one page for people, served by the app itself. The page (dashboard/) is static: its script
reads the app's own JSON routes, and everything it loads (the vendored chart library included) comes from this
server, so it works with no internet and no build step."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import SettingsDep
from api.errors import ApiError
from lib.config import PROJECT_ROOT

DASHBOARD_DIR = PROJECT_ROOT / "dashboard"
# The browser may load only what this server sends: the page can reach no other host, even by mistake.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",  # revalidate (ETag): an upgrade shows at once
}
TEXT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
              ".html": "text/html; charset=utf-8", ".md": "text/plain; charset=utf-8"}

router = APIRouter(tags=["dashboard"], include_in_schema=False)


def dashboard_files(root: Path = DASHBOARD_DIR) -> dict[str, Path]:
    """Every file of the dashboard folder by its URL path under /dashboard/ (nothing outside it can be named)."""
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


FILES = dashboard_files()


def _media_type(path: Path) -> str:
    if path.suffix in TEXT_TYPES:
        return TEXT_TYPES[path.suffix]
    if path.suffix == "":  # LICENSE, NOTICE
        return "text/plain; charset=utf-8"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


PAGE_ROOT = '<html lang="en">'


def page_html(convention: str, path: Path = FILES["index.html"]) -> str:
    """The page with the colour convention of this install on its root element (the stylesheet and the charts
    read it from there: no inline script, which the policy forbids)."""
    text = path.read_text(encoding="utf-8")
    return text.replace(PAGE_ROOT, f'<html lang="en" data-up-color="{convention}">', 1)


@router.get("/dashboard")
def page(settings: SettingsDep) -> HTMLResponse:
    """The dashboard page."""
    return HTMLResponse(page_html(settings.dashboard_up_color_convention), headers=HEADERS)


@router.get("/dashboard/{name:path}")
def asset(name: str) -> FileResponse:
    """A file the page loads (script, style, the vendored chart library and its licence)."""
    path = FILES.get(name)
    if path is None or name == "index.html":
        raise ApiError(404, f"no dashboard file {name[:60]!r}; the page is /dashboard")
    return FileResponse(path, media_type=_media_type(path), headers=HEADERS)
