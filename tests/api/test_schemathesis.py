"""Property-based tests over every route of the app (schemathesis on the ASGI app, no network): no input
answers 500, and every answer has a documented status, content type and body schema. Routes added later
(ETF, portfolio) are covered without touching this file."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.errors import ErrorBody
from tests.api.conftest import KEY, NOW, api_settings
from tests.llm_fakes import fake_model, reply

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
DOC_ROUTES = {"/openapi.json", "/docs", "/redoc", "/docs/assets/{name:path}"}
# Pages for people, not the JSON API (tests/api/test_dashboard_route.py covers them).
PAGE_ROUTES = {"/dashboard", "/dashboard/{name:path}"}


def _factory(settings, spec):
    return fake_model(*(reply("no JSON here") for _ in range(10)))


def _app(storage):
    settings = api_settings(google_api_key="g-key", ai_rate_limit_per_hour=100_000, llm_parse_retries=0)
    return create_app(settings, storage=storage, clock=lambda: NOW, llm_factory=_factory)


# The schema is read when the module is imported (schemathesis' lazy fixture loader does not support the
# pinned pytest); the analysed database is attached to the app before the tests run.
APP = _app(None)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(autouse=True)
def _database(analysed):
    APP.state.storage = analysed
    yield
    del APP.state.storage


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_input_makes_any_route_answer_500_or_off_its_documentation(case):
    case.call_and_validate(headers={"X-API-Key": KEY}, checks=CHECKS)


def _routes(routes, prefix=""):
    """(method, path) of every route, through included routers (FastAPI keeps them nested)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes, prefix + route.include_context.prefix)
            continue
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                yield method, prefix + route.path


def test_every_route_is_in_the_schema_with_its_errors_in_the_common_shape(analysed):
    app = _app(analysed)
    spec = app.openapi()
    routes = {(method, path) for method, path in _routes(app.routes) if path not in DOC_ROUTES | PAGE_ROUTES}
    documented = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert routes == documented
    error_ref = f"#/components/schemas/{ErrorBody.__name__}"
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            errors = {code: r for code, r in op["responses"].items() if code.startswith(("4", "5"))}
            assert errors, (method, path)
            for code, response in errors.items():
                assert response["content"]["application/json"]["schema"]["$ref"] == error_ref, (method, path, code)
            assert op["responses"]["200"]["content"]["application/json"]["schema"], (method, path)
