"""Settings: a bad value stops with one line naming the setting and the fix; secrets never print."""

from __future__ import annotations

import datetime as dt

import pytest

from lib.config import load_settings
from lib.errors import ConfigError
from lib.markets.krx.settings import krx_settings
from tests.conftest import PANEL


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"krx_sources": "krx_openapi,yahoo"}, "setting KRX_SOURCES: unknown source 'yahoo'; choose from"),
        ({"krx_sources": ""}, "setting KRX_SOURCES: name at least one source"),
        ({"krx_sources": "replay"}, "KRX_SOURCES names 'replay': set KRX_REPLAY_PATH"),
        ({"mongodb_uri": "postgres://localhost"}, "setting MONGODB_URI: must start with mongodb://"),
        ({"krx_extra_closed_days": "2025-13-01"}, "setting KRX_EXTRA_CLOSED_DAYS"),
        ({"market_cap_threshold_krw": -5}, "setting MARKET_CAP_THRESHOLD_KRW"),
        ({"krx_min_request_gap_seconds": "fast"}, "setting KRX_MIN_REQUEST_GAP_SECONDS"),
        ({"api_max_body_bytes": 10}, "setting API_MAX_BODY_BYTES"),
        ({"ai_model_prices": "openai:gpt-4o=nan/10"}, "setting AI_MODEL_PRICES: openai:gpt-4o='nan/10' is not"),
        ({"ai_model_prices": "openai:gpt-4o=2.5/inf"}, "setting AI_MODEL_PRICES"),
        ({"ai_leaderboard_windows": "30,999999999"}, "setting AI_LEADERBOARD_WINDOWS: name at least one window"),
    ],
)
def test_a_bad_setting_names_itself_and_the_fix(overrides, expected):
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None, **overrides)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_settings_come_from_the_environment_and_dot_env(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text(f"KRX_SOURCES=replay\nKRX_REPLAY_PATH={PANEL}\nKRX_EXTRA_CLOSED_DAYS=2025-06-03, 2025-10-10\n")
    monkeypatch.setenv("MARKET_CAP_THRESHOLD_KRW", "50000000000")
    settings = load_settings(env_file=env)
    assert krx_settings(settings).sources == ["replay"]
    assert krx_settings(settings).extra_closed_days == [dt.date(2025, 6, 3), dt.date(2025, 10, 10)]
    assert krx_settings(settings).market_cap_threshold_krw == 50_000_000_000


def test_secrets_never_show_in_the_settings_repr():
    settings = load_settings(
        env_file=None, mongodb_uri="mongodb://admin:hunter2@db:27017/", krx_openapi_key="k3y-abc", krx_pw="pw-xyz"
    )
    text = repr(settings) + str(settings) + repr(krx_settings(settings)) + str(krx_settings(settings))
    assert "hunter2" not in text and "k3y-abc" not in text and "pw-xyz" not in text
    assert settings.mongodb_uri_value == "mongodb://admin:hunter2@db:27017/"


def test_a_problem_of_several_settings_is_not_blamed_on_a_setting_called_settings():
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None, krx_sources="replay")
    assert str(info.value).startswith("KRX_SOURCES names 'replay'") and "SETTINGS" not in str(info.value)


def test_a_blank_secret_is_an_unset_secret(tmp_path):
    env = tmp_path / ".env"
    env.write_text("KRX_OPENAPI_KEY=\nKRX_PW=  \nKRX_ID=\nMONGODB_URI=\nKRX_REPLAY_PATH=\n")
    settings = load_settings(env_file=env)
    krx = krx_settings(settings)
    assert krx.openapi_key is None and krx.pw is None and krx.id is None
    assert settings.mongodb_uri is None and krx.replay_path is None
    assert krx_settings(load_settings(env_file=None, krx_openapi_key=" ")).openapi_key is None


def test_the_open_api_is_never_called_with_a_blank_key(tmp_path):
    from lib.markets.krx.sources import build_sources

    env = tmp_path / ".env"
    env.write_text("KRX_OPENAPI_KEY=\n")  # what `cp .env.example .env` leaves
    with pytest.raises(ConfigError, match=r"KRX_SOURCES is not set, so its default krx_openapi,pykrx applies"):
        build_sources(load_settings(env_file=env))


def test_typos_in_dot_env_are_named_with_the_closest_setting(tmp_path, caplog):
    env = tmp_path / ".env"
    env.write_text("KRX_SOURCE=replay\nkrx_min_request_gap_second=0\nKRX_SECRET=x\nEDITOR=vim\nLOG_LEVEL=INFO\n")
    with caplog.at_level("WARNING", logger="pipeline"):
        load_settings(env_file=env)
    lines = [r.getMessage() for r in caplog.records]
    assert ".env: KRX_SOURCE is not a setting and is ignored; did you mean KRX_SOURCES?" in lines
    assert any("krx_min_request_gap_second" in m and "KRX_MIN_REQUEST_GAP_SECONDS?" in m for m in lines)
    assert any(m.startswith(".env: KRX_SECRET is not a setting") for m in lines)
    assert not any("EDITOR" in m or "LOG_LEVEL" in m for m in lines)


def test_env_example_lists_every_setting():
    from lib.config import PROJECT_ROOT, setting_names

    listed = {line.split("=", 1)[0] for line in (PROJECT_ROOT / ".env.example").read_text().splitlines()
              if line and not line.startswith("#")}
    assert set(setting_names()) <= listed


def test_alert_secrets_never_show_in_the_settings_repr():
    settings = load_settings(env_file=None, telegram_bot_token="123:tok-abc", telegram_chat_id="42",
                             alert_webhook_url="https://hooks.example/s3cr3t")
    text = repr(settings) + str(settings)
    assert "tok-abc" not in text and "s3cr3t" not in text


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"api_keys": "a"}, "setting API_KEYS: the key is only 1 character long; each key needs at least 16"),
        ({"api_keys": "0123456789abcdef, short-key"}, "setting API_KEYS: key 2 of 2 is only 9 characters long"),
        ({"ai_rate_limit_per_hour": 2, "llm_parse_retries": 2}, "setting AI_RATE_LIMIT_PER_HOUR: 2 is below"),
        ({"llm_model": "gemini-2.5-pro", "llm_allowed_models": "gemini-2.5-flash"},
         "setting LLM_MODEL: gemini-2.5-pro must be one of LLM_ALLOWED_MODELS"),
    ],
)
def test_an_api_only_setting_stops_the_api_in_one_line_but_never_the_cron_scripts(overrides, expected, make_settings):
    import daily_update
    from lib.config import check_api_settings

    settings = load_settings(env_file=None, **overrides)  # the scripts load it without complaint
    with pytest.raises(ConfigError) as info:
        check_api_settings(settings)
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert "0123456789abcdef" not in str(info.value)  # never a key
    # daily_update runs on (exit 2 here only because nothing is set up yet, as without the setting)
    plain = daily_update.main(["--today", "2024-09-02"], settings=make_settings())
    assert daily_update.main(["--today", "2024-09-02"], settings=make_settings(**overrides)) == plain
