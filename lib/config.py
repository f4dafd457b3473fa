"""Settings: one pydantic-settings object read once from the environment and `.env`, then passed down.

The core settings are here (and the API's in lib/config_api.py); each market declares its own in
lib/markets/<market>/settings.py (a MarketSettings class with its env prefix, KRX_ or US_), found by scanning
that folder, so a new market adds its settings without an edit here."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import NoDecode

from lib.config_api import ApiSettings, check_api_settings
from lib.config_predict import PredictSettings
from lib.errors import ConfigError
from lib.log import get_logger
from lib.settings_base import PROJECT_ROOT, SETTINGS_CONFIG, MarketSettings, project_path, split_csv

__all__ = ["PROJECT_ROOT", "MarketSettings", "Settings", "check_api_settings", "load_settings", "market_classes"]

# 252 sessions of 52-week indicators plus 20 sessions of track-record horizon, in calendar days, with margin.
MIN_PRICE_RETENTION_DAYS = 400


def _market_folders() -> list[str]:
    """The folders of the lib.markets package, found without importing the markets (a higher layer): by name,
    like the strategies, and as extended at run time when the package is already imported (a plugged-in
    market's folder appended to its `__path__`)."""
    loaded = sys.modules.get("lib.markets")
    if loaded is not None:
        return list(loaded.__path__)
    spec = importlib.util.find_spec("lib.markets")
    return list(spec.submodule_search_locations or []) if spec else []


def market_classes() -> dict[str, type[MarketSettings]]:
    """Each market's settings class by the market's name: the MarketSettings class of every
    lib/markets/<market>/settings.py (only those modules are imported, with their package)."""
    found: dict[str, type[MarketSettings]] = {}
    for info in sorted(pkgutil.iter_modules(_market_folders()), key=lambda info: info.name):
        module_name = f"lib.markets.{info.name}.settings"
        if not info.ispkg:
            continue
        try:
            spec = importlib.util.find_spec(module_name)  # imports the market's package
        except Exception:  # noqa: BLE001 - a broken market is skipped here and reported by the registry
            continue
        if spec is None:
            continue
        module = importlib.import_module(module_name)
        classes = [value for value in vars(module).values() if isinstance(value, type)
                   and issubclass(value, MarketSettings) and value.__module__ == module_name]
        if len(classes) != 1:
            raise ConfigError(f"{module_name} must define one MarketSettings class, not {len(classes)}")
        found[info.name] = classes[0]
    return found


def _routes(classes: dict[str, type[MarketSettings]]) -> dict[str, tuple[str, str]]:
    """Each market setting's variable (KRX_SOURCES) mapped to its market and field; a variable two classes
    would read is a ConfigError."""
    routes: dict[str, tuple[str, str]] = {}
    core = {name.upper() for name in Settings.model_fields}
    for market, cls in classes.items():
        for env, field in cls.env_names().items():
            if env in core or env in routes:
                owner = routes[env][0] if env in routes else "the core settings"
                raise ConfigError(f"setting {env} is declared by market {market} and by {owner}: rename one")
            routes[env] = (market, field)
    return routes


def _split(values: dict[str, object], classes: dict[str, type[MarketSettings]],
           ) -> tuple[dict[str, object], dict[str, dict[str, object]]]:
    """Values named like their variable in lower case (krx_replay_path) as the core ones and each market's,
    by field (replay_path)."""
    routes = _routes(classes)
    core: dict[str, object] = {}
    markets: dict[str, dict[str, object]] = {}
    for key, value in values.items():
        if key.upper() in routes:
            market, field = routes[key.upper()]
            markets.setdefault(market, {})[field] = value
        else:
            core[key] = value
    return core, markets


def setting_names() -> list[str]:
    """Every setting's variable: the core ones, then each market's."""
    names = [name.upper() for name in Settings.model_fields]
    for cls in market_classes().values():
        names.extend(cls.env_names())
    return names


class Settings(ApiSettings, PredictSettings):
    """Every setting of the pipeline (`.env.example` documents each one): the core ones here and in ApiSettings,
    each market's own in lib/markets/<market>/settings.py, read by load_settings and got with `market(name)`."""

    # A blank value (`MONGODB_URI=` as .env.example leaves it) is an unset one.
    model_config = SETTINGS_CONFIG

    mongodb_uri: SecretStr | None = None
    mongodb_db_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,32}$")
    # The scripts' bound on one MongoDB operation (a stalled server fails the run instead of hanging it).
    mongodb_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)

    # The markets this install runs (each folder of lib/markets with a settings.py); empty: every market set up
    # so far (check_db only asks for those). Each market's own settings (KRX_*, US_*) are in its settings.py.
    markets: Annotated[list[str], NoDecode] = []

    setup_history_sessions: int = Field(default=300, ge=1, le=5000)
    missing_day_grace_days: int = Field(default=7, ge=1, le=60)
    lock_timeout_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    analysis_quota_per_run: int = Field(default=400, ge=1, le=100_000)
    analysis_deadline_minutes: float = Field(default=50.0, gt=0, le=24 * 60)

    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    log_warnings_file: Path | None = None

    # Retention, in days (0 keeps forever); see lib/ops/cleanup.py for what each kind protects.
    retention_prices_days: int = Field(default=0, ge=0, le=100_000)
    retention_screening_days: int = Field(default=365, ge=0, le=100_000)
    retention_runs_days: int = Field(default=90, ge=0, le=100_000)
    retention_alerts_days: int = Field(default=180, ge=0, le=100_000)
    retention_picks_days: int = Field(default=365, ge=0, le=100_000)
    retention_ai_days: int = Field(default=365, ge=0, le=100_000)
    retention_rejected_days: int = Field(default=365, ge=0, le=100_000)
    # What the AI reads (watermark datasets, by kind), counted back from now by each item's date.
    retention_disclosures_days: int = Field(default=0, ge=0, le=100_000)
    retention_news_days: int = Field(default=730, ge=0, le=100_000)
    retention_macro_days: int = Field(default=0, ge=0, le=100_000)

    # Status and alerts.
    stale_after_sessions: int = Field(default=2, ge=1, le=60)
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = Field(default=None, validate_default=True)
    telegram_api_url: str = "https://api.telegram.org"
    alert_webhook_url: SecretStr | None = None
    alert_strategies: Annotated[list[str], NoDecode] = []
    alert_max_age_days: int = Field(default=3, ge=1, le=60, validate_default=True)
    alert_max_attempts: int = Field(default=3, ge=1, le=20)
    alert_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    _markets: dict[str, MarketSettings] = PrivateAttr(default_factory=dict)

    @field_validator("markets", "alert_strategies", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("markets")
    @classmethod
    def _known_markets(cls, value: list[str]) -> list[str]:
        value = [name.lower() for name in value]
        known = list(market_classes())
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(f"unknown market {unknown[0]!r}; choose from {', '.join(known)}")
        return list(dict.fromkeys(value))

    @field_validator("telegram_bot_token", "alert_webhook_url", mode="after")
    @classmethod
    def _blank_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("telegram_chat_id", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("telegram_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("retention_prices_days")
    @classmethod
    def _prices_cover_indicators(cls, value: int) -> int:
        if 0 < value < MIN_PRICE_RETENTION_DAYS:
            raise ValueError(
                f"keep at least {MIN_PRICE_RETENTION_DAYS} days of prices (the 52-week indicators and 20-session "
                "track records need them), or 0 to keep them forever"
            )
        return value

    @field_validator("mongodb_uri")
    @classmethod
    def _uri_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        raw = value.get_secret_value().strip()
        if not raw.startswith(("mongodb://", "mongodb+srv://", "mongomock://")):
            raise ValueError("must start with mongodb://, mongodb+srv:// or mongomock://")
        return SecretStr(raw)

    @field_validator("telegram_chat_id", mode="after")
    @classmethod
    def _telegram_pair(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (info.data.get("telegram_bot_token") is None) != (value is None):
            raise ValueError("set both TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID for Telegram alerts, or neither")
        return value

    @field_validator("alert_max_age_days", mode="after")
    @classmethod
    def _alerts_outlive_their_window(cls, value: int, info: ValidationInfo) -> int:
        kept = info.data.get("retention_alerts_days")
        if kept and kept <= value:
            raise ValueError(
                f"must be shorter than RETENTION_ALERTS_DAYS ({kept}), or an event could be alerted twice after "
                "its record is deleted (RETENTION_ALERTS_DAYS=0 keeps alert records forever)"
            )
        return value

    @model_validator(mode="after")
    def _absolute_paths(self) -> Settings:
        if self.log_warnings_file is not None:
            self.log_warnings_file = project_path(self.log_warnings_file)
        return self

    @property
    def mongodb_uri_value(self) -> str | None:
        """The URI in clear text, for the db layer only (never log it)."""
        return self.mongodb_uri.get_secret_value() if self.mongodb_uri else None

    def market(self, name: str) -> MarketSettings:
        """One market's own settings (lib/markets/<name>/settings.py), as load_settings read them."""
        try:
            return self._markets[name]
        except KeyError:
            known = ", ".join(self._markets) or "none (settings not made by load_settings)"
            raise ConfigError(f"no settings for market {name!r}; markets with settings: {known}") from None

    def updated(self, **changes: object) -> Settings:
        """A copy with some settings changed, each named like its variable in lower case as load_settings takes
        them (krx_replay_path=..., setup_history_sessions=...); the values are used as given, not validated."""
        core, markets = _split(changes, {name: type(m) for name, m in self._markets.items()})
        unknown = [key for key in core if key not in type(self).model_fields]
        if unknown:
            raise ValueError(f"{unknown[0]} is not a setting")
        copy = self.model_copy(update=core)
        copy._markets = {name: m.model_copy(update=markets[name]) if name in markets else m
                         for name, m in self._markets.items()}
        return copy

    def env_values(self) -> dict[str, object]:
        """Every setting's value by its variable's name (MONGODB_URI, KRX_OPENAPI_KEY, ...)."""
        values: dict[str, object] = {name.upper(): getattr(self, name) for name in type(self).model_fields}
        for m in self._markets.values():
            values.update({env: getattr(m, field) for env, field in type(m).env_names().items()})
        return values


def load_settings(env_file: Path | str | None = PROJECT_ROOT / ".env", **overrides: object) -> Settings:
    """Read settings once, the core ones and each market's; a bad value becomes one ConfigError line that says
    what to set. `overrides` name settings like their variable in lower case (krx_sources=[...]). Keys in the
    .env file that are not settings but look like one get a warning naming the closest setting."""
    classes = market_classes()
    if env_file is not None:
        warn_unknown_keys(Path(env_file))
    core, per_market = _split(overrides, classes)
    problems: list[tuple[ValidationError, Callable[[str], str]]] = []
    settings: Settings | None = None
    markets: dict[str, MarketSettings] = {}
    try:
        settings = Settings(_env_file=env_file, **core)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems.append((exc, str.upper))
    for name, cls in classes.items():
        try:
            markets[name] = cls(_env_file=env_file, **per_market.get(name, {}))  # type: ignore[call-arg]
        except ValidationError as exc:
            problems.append((exc, lambda field, cls=cls: cls.env_name(field) if field in cls.model_fields
                             else field.upper()))
    if problems or settings is None:
        raise _config_error(problems)
    settings._markets = markets
    return settings


def _config_error(problems: list[tuple[ValidationError, Callable[[str], str]]]) -> ConfigError:
    """The first problem as one line naming its variable, and how many more there are."""
    exc, env_name = problems[0]
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    message = first["msg"].removeprefix("Value error, ")
    count = sum(error.error_count() for error, _ in problems)
    more = f" (and {count - 1} more problem(s))" if count > 1 else ""
    where = f"setting {'.'.join([env_name(loc[0]), *loc[1:]])}: " if loc else ""
    return ConfigError(f"{where}{message}; fix it in .env or the environment{more}")


def warn_unknown_keys(env_file: Path) -> list[str]:
    """Warn about each key of the .env file that is no setting but looks like one (a typo: KRX_SOURCE,
    KRX_MIN_REQUEST_GAP_SECOND), naming the closest setting; returns the warnings."""
    if not env_file.is_file():
        return []
    from dotenv import dotenv_values

    names = setting_names()
    prefixes = {name.split("_")[0] for name in names}
    warnings = []
    for key in dotenv_values(env_file):
        upper = key.upper()
        if upper in names:
            continue
        close = difflib.get_close_matches(upper, names, n=1, cutoff=0.75)
        if close:
            warnings.append(f"{env_file.name}: {key} is not a setting and is ignored; did you mean {close[0]}?")
        elif upper.split("_")[0] in prefixes:
            warnings.append(f"{env_file.name}: {key} is not a setting and is ignored (.env.example lists them all)")
    for warning in warnings:
        get_logger("config").warning("%s", warning)
    return warnings
