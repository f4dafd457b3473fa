"""GET /openapi.json, /docs (Swagger UI) and /redoc (ReDoc), with the UI libraries served by the app itself
from api/vendor/ (FastAPI's defaults load them from a CDN: blank pages on a closed network). Like every read
route, the three need X-API-Key when API_KEYS_FOR_READS=true; the vendored files are public code and stay open."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from api.deps import read_access
from api.errors import DESCRIPTIONS, ApiError, ErrorBody

VENDOR_DIR = Path(__file__).resolve().parent / "vendor"
ASSETS_URL = "/docs/assets"
# The pages may load scripts, styles, images and fonts and send requests only to this server (ReDoc's footer
# logo is on a CDN: refused here rather than tried). Swagger UI's page starts it with an inline script; ReDoc
# runs its search in a blob: worker. Checked in headless Chromium: both render, search and "Try it out" work.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"}
TEXT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
              ".txt": "text/plain; charset=utf-8", ".md": "text/plain; charset=utf-8"}

router = APIRouter(include_in_schema=False)
ReadAccess = Annotated[None, Depends(read_access)]


def vendored_files(root: Path = VENDOR_DIR) -> dict[str, Path]:
    """Every vendored file by its URL path under /docs/assets/ (nothing outside the folder can be named)."""
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


ASSETS = vendored_files()


def _root(request: Request) -> str:
    # Behind a proxy that mounts the app under a prefix, the pages must name that prefix too.
    return request.scope.get("root_path", "").rstrip("/")


@router.get("/openapi.json")
def openapi(request: Request, _access: ReadAccess) -> JSONResponse:
    """The OpenAPI document of the JSON API."""
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def swagger_ui(request: Request, _access: ReadAccess) -> HTMLResponse:
    """Swagger UI on /openapi.json, from the vendored swagger-ui-dist."""
    root = _root(request)
    page = get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_URL}/swagger-ui/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},  # else its badge would send the document to swagger.io
    )
    page.headers.update(PAGE_HEADERS)
    return page


@router.get("/redoc")
def redoc(request: Request, _access: ReadAccess) -> HTMLResponse:
    """ReDoc on /openapi.json, from the vendored redoc bundle (no Google fonts)."""
    root = _root(request)
    page = get_redoc_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{ASSETS_URL}/redoc/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_URL}/swagger-ui/favicon-32x32.png",
        with_google_fonts=False,
    )
    page.headers.update(PAGE_HEADERS)
    return page


@router.get(ASSETS_URL + "/{name:path}")
def asset(name: str) -> FileResponse:
    """A vendored file: Swagger UI's bundle, style and icon, ReDoc's bundle, their licences."""
    path = ASSETS.get(name)
    if path is None:
        raise ApiError(404, f"no docs asset {name[:60]!r}; the pages are /docs and /redoc")
    media_type = TEXT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "text/plain; charset=utf-8"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})


def document_body_limit(app: FastAPI) -> None:
    """Add 413 (a body over API_MAX_BODY_BYTES, refused by api/middleware.py) to every operation that takes a
    body, in the app's OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        spec = build()  # FastAPI's own, built once and cached: adding to it again changes nothing
        schema = {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}
        too_large = {"description": DESCRIPTIONS[413], "content": {"application/json": {"schema": schema}}}
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                if "requestBody" in operation:
                    operation["responses"].setdefault("413", too_large)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
