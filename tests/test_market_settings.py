"""Each market's settings live in its own lib/markets/<market>/settings.py: a third market adds its settings with
that one module (here written into a temporary folder of the lib.markets package), with no edit elsewhere."""

from __future__ import annotations

import datetime as dt
import importlib
import sys

import pytest

import lib.markets
from lib.config import load_settings, market_classes
from lib.errors import ConfigError
from lib.markets.krx.settings import krx_settings
from lib.spine.stops import redact

TSE_SETTINGS = '''
"""The Tokyo Stock Exchange's settings (a market plugged in by a test)."""

from typing import Annotated

from pydantic import Field, SecretStr
from pydantic_settings import NoDecode, SettingsConfigDict

from lib.settings_base import SETTINGS_CONFIG, MarketSettings


class TseSettings(MarketSettings):
    """TSE_* variables."""

    model_config = SettingsConfigDict(**SETTINGS_CONFIG, env_prefix="TSE_")
    known_sources = ("jquants", "replay")

    sources: Annotated[list[str], NoDecode] = ["jquants"]
    api_key: SecretStr | None = None
    lot_size: int = Field(default=100, ge=1, le=10_000)
'''


@pytest.fixture
def tse(tmp_path, monkeypatch):
    """A market `tse` whose package holds only its settings module, in a folder added to lib.markets."""
    package = tmp_path / "plugged" / "tse"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""The TSE market."""\n')
    (package / "settings.py").write_text(TSE_SETTINGS)
    monkeypatch.setattr(lib.markets, "__path__", [*lib.markets.__path__, str(tmp_path / "plugged")])
    importlib.invalidate_caches()
    yield
    for name in [n for n in sys.modules if n == "lib.markets.tse" or n.startswith("lib.markets.tse.")]:
        del sys.modules[name]


def test_a_new_markets_settings_module_is_found_and_read_with_its_prefix(tse, tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("MARKETS=tse,krx\nTSE_SOURCES=replay\nTSE_LOT_SIZE=1000\n")
    monkeypatch.setenv("TSE_EXTRA_CLOSED_DAYS", "2025-01-02, 2025-01-03")
    settings = load_settings(env_file=env)
    assert "tse" in market_classes() and settings.markets == ["tse", "krx"]
    plugged = settings.market("tse")
    assert plugged.sources == ["replay"] and plugged.lot_size == 1000
    assert plugged.extra_closed_days == [dt.date(2025, 1, 2), dt.date(2025, 1, 3)]  # what every market has
    assert krx_settings(settings).sources == ["krx_openapi", "pykrx"]  # the other markets read as before


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("TSE_LOT_SIZE=0", "setting TSE_LOT_SIZE: Input should be greater than or equal to 1; fix it in .env"),
        ("TSE_SOURCES=yahoo", "setting TSE_SOURCES: unknown source 'yahoo'; choose from jquants, replay; fix it"),
    ],
)
def test_a_bad_value_of_a_new_market_is_one_line_naming_its_variable(tse, tmp_path, line, expected):
    env = tmp_path / ".env"
    env.write_text(line + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=env)
    assert str(info.value).startswith(expected) and "\n" not in str(info.value)


def test_a_market_without_its_settings_module_is_refused_in_markets():
    with pytest.raises(ConfigError, match=r"^setting MARKETS: unknown market 'tse'; choose from krx, us; fix it"):
        load_settings(env_file=None, markets="krx,tse")


def test_overrides_and_updates_go_to_the_market_named_by_their_prefix(tse):
    settings = load_settings(env_file=None, tse_sources="replay", tse_lot_size=10, setup_history_sessions=7)
    assert settings.market("tse").lot_size == 10 and settings.setup_history_sessions == 7
    changed = settings.updated(tse_lot_size=500, setup_history_sessions=9)
    assert changed.market("tse").lot_size == 500 and changed.setup_history_sessions == 9
    assert settings.market("tse").lot_size == 10 and settings.setup_history_sessions == 7  # the original stays
    with pytest.raises(ValueError, match="tse_lot_sise is not a setting"):
        settings.updated(tse_lot_sise=1)


def test_a_typo_of_a_new_markets_variable_is_named_with_the_closest_setting(tse, tmp_path, caplog):
    env = tmp_path / ".env"
    env.write_text("TSE_LOT_SIZ=100\n")
    with caplog.at_level("WARNING", logger="pipeline"):
        load_settings(env_file=env)
    assert ".env: TSE_LOT_SIZ is not a setting and is ignored; did you mean TSE_LOT_SIZE?" in caplog.messages


def test_a_new_markets_secret_is_blank_when_blank_and_never_shown_in_a_stop_line(tse, tmp_path):
    env = tmp_path / ".env"
    env.write_text("TSE_API_KEY=  \n")
    assert load_settings(env_file=env).market("tse").api_key is None
    settings = load_settings(env_file=None, tse_api_key="t0ky0-s3cret")
    assert "t0ky0-s3cret" not in repr(settings.market("tse"))
    assert redact("the source refused t0ky0-s3cret", settings) == "the source refused <TSE_API_KEY>"


def test_a_market_setting_the_core_settings_already_read_is_refused(tse, tmp_path):
    clash = tmp_path / "plugged" / "tse" / "settings.py"
    clash.write_text(TSE_SETTINGS.replace(
        "lot_size: int = Field(default=100,", 'lot_size: int = Field(validation_alias="LOG_LEVEL", default=100,'))
    with pytest.raises(ConfigError, match="^setting LOG_LEVEL is declared by market tse and by the core settings"):
        load_settings(env_file=None)
