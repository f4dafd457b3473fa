"""Alert channels: Telegram (Bot API sendMessage) and a generic JSON webhook. One small interface: build the
request (pure), post it (the only I/O, one attempt: a failed delivery is retried by the next job's alert step),
check the answer. Secrets never appear in an error message."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from lib.config import Settings
from lib.errors import NotifyError

TELEGRAM_LIMIT = 4096  # characters a Telegram message may hold


@dataclass(frozen=True)
class Alert:
    """One event to tell a person about; `key` identifies the event, so it is sent at most once."""

    key: str
    kind: str  # job_failed, job_recovered, source_blocked, no_data, stale, analysis_stale, picks
    severity: str  # error, warning, info
    title: str
    text: str
    time_utc: dt.datetime
    host: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """An HTTP POST with a JSON body."""

    url: str
    body: dict[str, Any]


class Notifier(ABC):
    """A channel alerts go out through."""

    name: ClassVar[str]

    def __init__(self, timeout: float, session: requests.Session | None = None) -> None:
        self.timeout = timeout
        self.session = session or requests.Session()

    @abstractmethod
    def build_request(self, alert: Alert) -> Request:
        """The POST that delivers this alert (pure)."""

    @abstractmethod
    def check(self, status: int, body: Any) -> None:
        """Raise NotifyError unless the answer says the message was taken."""

    @abstractmethod
    def redact(self, text: str) -> str:
        """The text with this channel's secrets replaced."""

    def send(self, alert: Alert) -> None:
        """Deliver the alert once; NotifyError (without secrets) when the channel did not take it."""
        request = self.build_request(alert)
        try:
            response = self.session.post(request.url, json=request.body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise NotifyError(self.redact(f"{self.name}: {exc.__class__.__name__}: {exc}")) from None
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:200]
        self.check(response.status_code, body)


class TelegramNotifier(Notifier):
    """Telegram's Bot API: POST {base}/bot<token>/sendMessage with chat_id and text."""

    name = "telegram"

    def __init__(
        self, token: str, chat_id: str, base_url: str, timeout: float, session: requests.Session | None = None
    ) -> None:
        super().__init__(timeout, session)
        self.token, self.chat_id, self.base_url = token, chat_id, base_url.rstrip("/")

    def build_request(self, alert: Alert) -> Request:
        """Plain text (no parse mode, so no character needs escaping), cut to Telegram's 4096 characters."""
        where = f"[{alert.host}] " if alert.host else ""
        text = f"{where}{alert.title}\n{alert.text}"
        if len(text) > TELEGRAM_LIMIT:
            text = text[: TELEGRAM_LIMIT - 1] + "…"
        body = {"chat_id": self.chat_id, "text": text, "disable_web_page_preview": True}
        return Request(f"{self.base_url}/bot{self.token}/sendMessage", body)

    def check(self, status: int, body: Any) -> None:
        """Telegram answers {"ok": true, "result": ...} or {"ok": false, "error_code", "description"}."""
        if status == 200 and isinstance(body, dict) and body.get("ok") is True:
            return
        detail = body.get("description") if isinstance(body, dict) else body
        retry = body.get("parameters", {}).get("retry_after") if isinstance(body, dict) else None
        more = f" (retry after {retry} s)" if retry else ""
        raise NotifyError(self.redact(f"telegram: HTTP {status}: {detail}{more}"))

    def redact(self, text: str) -> str:
        """Hide the bot token (it is part of the URL, so it shows up in connection errors)."""
        return text.replace(self.token, "<TELEGRAM_BOT_TOKEN>") if self.token else text


class WebhookNotifier(Notifier):
    """A generic webhook: POST the alert as JSON; any 2xx answer is success."""

    name = "webhook"

    def __init__(self, url: str, timeout: float, session: requests.Session | None = None) -> None:
        super().__init__(timeout, session)
        self.url = url
        parts = urlsplit(url)
        self.public = f"{parts.scheme}://{parts.hostname}"  # webhook URLs often carry a secret path or query
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        self._secrets = [s for s in (url, tail, parts.path, parts.query) if len(s) > 1]

    def build_request(self, alert: Alert) -> Request:
        """The alert's fields as one JSON object."""
        body = {
            "source": "stock-pipeline",
            "key": alert.key,
            "kind": alert.kind,
            "severity": alert.severity,
            "title": alert.title,
            "text": alert.text,
            "host": alert.host,
            "time_utc": _utc_text(alert.time_utc),
            "details": alert.details,
        }
        return Request(self.url, body)

    def check(self, status: int, body: Any) -> None:
        """2xx is delivered; anything else says what the server answered."""
        if 200 <= status < 300:
            return
        raise NotifyError(self.redact(f"webhook {self.public}: HTTP {status}: {str(body)[:200]}"))

    def redact(self, text: str) -> str:
        """Hide the URL's path and query."""
        for secret in self._secrets:
            text = text.replace(secret, self.public if secret == self.url else "<path>")
        return text


def _utc_text(moment: dt.datetime) -> str:
    aware = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
    return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def configured_channels(settings: Settings) -> list[str]:
    """The names of the channels the settings configure."""
    names = []
    if settings.telegram_bot_token is not None and settings.telegram_chat_id:
        names.append(TelegramNotifier.name)
    if settings.alert_webhook_url is not None:
        names.append(WebhookNotifier.name)
    return names


def build_notifiers(settings: Settings) -> list[Notifier]:
    """The configured channels."""
    out: list[Notifier] = []
    timeout = settings.alert_timeout_seconds
    if settings.telegram_bot_token is not None and settings.telegram_chat_id:
        out.append(TelegramNotifier(settings.telegram_bot_token.get_secret_value(), settings.telegram_chat_id,
                                    settings.telegram_api_url, timeout))
    if settings.alert_webhook_url is not None:
        out.append(WebhookNotifier(settings.alert_webhook_url.get_secret_value(), timeout))
    return out
