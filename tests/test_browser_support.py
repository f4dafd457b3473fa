"""Where Chromium is missing the browser tests skip and say how to install it; on CI they fail instead."""

from __future__ import annotations

import pytest

from tests import browser


def test_without_chromium_the_browser_tests_skip_saying_how_to_install_it(monkeypatch):
    monkeypatch.setattr(browser.shutil, "which", lambda _name: None)
    monkeypatch.delenv("REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y chromium chromium-driver"):
        browser.require_browser()


def test_where_the_browser_is_required_a_missing_chromium_fails(monkeypatch):
    monkeypatch.setattr(browser.shutil, "which", lambda name: "/usr/bin/chromium" if name == "chromium" else None)
    monkeypatch.setenv("REQUIRE_BROWSER", "1")  # what .ci/run sets
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_BROWSER=1"):
        browser.require_browser()
