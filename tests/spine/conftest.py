"""Fixtures of the collection tests, shared with tests/jobs/: five-session settings on the small real panel, and
its replay source."""

from __future__ import annotations

from tests.jobs.conftest import replay, settings  # noqa: F401 - pytest finds a conftest's fixtures by name
