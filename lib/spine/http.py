"""One GET for every HTTP source (OpenDART, Naver, ECOS, FRED, the KRX Open API): `requests`' failures turned
into the pipeline's error kinds, so each client maps only its own answers (status codes, its error bodies)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from lib.errors import BadDataError, TransientSourceError


def http_get(session: requests.Session, url: str, where: str, timeout: float | tuple[float, float],
             redact: Callable[[str], str] | None = None, **kwargs: Any) -> requests.Response:
    """`session.get(url, timeout=..., **kwargs)`. No answer in time and no connection are transient (the run is
    retried later); any other failure of the request is bad data. The messages name the exception's class only:
    requests writes the whole URL, query and path keys included, into its text; with `redact` (the client's
    key remover) that text follows, keys replaced, so the message says which address failed."""

    def why(exc: Exception) -> str:
        return f"{exc.__class__.__name__}: {redact(str(exc))}" if redact else exc.__class__.__name__

    try:
        return session.get(url, timeout=timeout, **kwargs)
    except requests.Timeout as exc:
        seconds = max(timeout) if isinstance(timeout, tuple) else timeout
        raise TransientSourceError(f"{where}: no answer within {seconds:.0f}s ({why(exc)})") from None
    except requests.ConnectionError as exc:
        raise TransientSourceError(f"{where}: connection failed ({why(exc)})") from None
    except requests.RequestException as exc:
        raise BadDataError(f"{where}: the request failed ({why(exc)})") from None
