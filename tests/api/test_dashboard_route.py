"""GET /dashboard serves one self-contained page: everything it loads comes from this server."""

from __future__ import annotations

import hashlib
import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.dashboard import CONTENT_SECURITY_POLICY, DASHBOARD_DIR
from tests.api.conftest import api_settings

VENDOR = "vendor/lightweight-charts"


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(api_settings()), raise_server_exceptions=False)


def test_the_page_is_served_with_a_policy_that_allows_only_this_server(client):
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert "<title>Stock pipeline dashboard</title>" in response.text


def test_every_script_and_stylesheet_of_the_page_is_served_here(client):
    page = client.get("/dashboard").text
    loaded = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page)
    assert loaded, "the page loads its script and style"
    for url in loaded:
        if url.startswith("data:"):
            continue
        assert url.startswith("/dashboard/"), f"{url} is not served by the app"
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.content == (DASHBOARD_DIR / url.removeprefix("/dashboard/")).read_bytes()
    assert any(u.endswith("lightweight-charts.standalone.production.js") for u in loaded)


def test_the_page_scripts_name_no_other_host_and_import_only_each_other(client):
    scripts = sorted((DASHBOARD_DIR / "js").glob("*.js"))
    assert {p.name for p in scripts} >= {"main.js", "common.js", "health.js", "screener.js", "stock.js", "etf.js"}
    for path in scripts:
        text = path.read_text()
        assert not re.search(r"https?://", text), path.name
        for module in re.findall(r'^import .* from "([^"]+)";$', text, re.MULTILINE):
            assert re.fullmatch(r"\./[a-z]+\.js", module), (path.name, module)
            assert client.get(f"/dashboard/js/{module[2:]}").headers["content-type"].startswith("text/javascript")
    common = (DASHBOARD_DIR / "js" / "common.js").read_text()
    assert "fetch(" in common and "window.location.origin" in common


def test_the_vendored_chart_library_is_the_recorded_release_with_its_licence(client):
    readme = (DASHBOARD_DIR / VENDOR / "README.md").read_text()
    digest = hashlib.sha256((DASHBOARD_DIR / VENDOR / "lightweight-charts.standalone.production.js").read_bytes())
    assert digest.hexdigest() in readme
    licence = client.get(f"/dashboard/{VENDOR}/LICENSE")
    assert licence.status_code == 200 and "Apache License" in licence.text
    assert licence.headers["content-type"] == "text/plain; charset=utf-8"
    assert "TradingView, Inc." in client.get(f"/dashboard/{VENDOR}/NOTICE").text
    assert "TradingView" in client.get(f"/dashboard/{VENDOR}/LICENSE-fancy-canvas").text
    page = client.get("/dashboard").text
    assert f"/dashboard/{VENDOR}/NOTICE" in page and "TradingView" in page


@pytest.mark.parametrize("path", ["/dashboard/../main.py", "/dashboard/%2e%2e/main.py", "/dashboard/nothing.js",
                                  "/dashboard/vendor", "/dashboard/index.html"])
def test_nothing_outside_the_dashboard_files_is_served(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found" and "import" not in response.text


def test_the_page_is_served_even_where_reads_need_a_key():
    # The page holds no data; the routes it reads ask for the key, and the page asks the person for it.
    client = TestClient(create_app(api_settings(api_keys_for_reads=True)))
    assert client.get("/dashboard").status_code == 200
    assert client.get("/status").status_code == 401


def test_the_dashboard_is_not_part_of_the_json_api_description(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(p.startswith("/dashboard") for p in paths)


@pytest.mark.parametrize(("setting", "convention"), [({}, "kr"), ({"dashboard_up_color_convention": "us"}, "us")])
def test_the_page_carries_the_install_s_colour_convention_korean_by_default(setting, convention):
    page = TestClient(create_app(api_settings(**setting))).get("/dashboard").text
    assert f'<html lang="en" data-up-color="{convention}">' in page
    # the stylesheet has the other convention's colours under that attribute
    style = (DASHBOARD_DIR / "dashboard.css").read_text()
    assert ':root[data-up-color="us"] { --up: #1b7f3b; --down: #c62828;' in style
