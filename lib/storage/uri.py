"""What MONGODB_URI's problems mean for a person: its options checked before the driver sees them (an invalid
value refused, an unknown option one warning line), a `mongodb+srv://` DNS failure told apart from a malformed
address, and the user info kept out of every message."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import dns.exception
import dns.resolver
from pymongo.common import URI_OPTIONS_VALIDATOR_MAP
from pymongo.errors import ConfigurationError
from pymongo.uri_parser import split_options

from lib.errors import ConfigError, PipelineError, TransientSourceError
from lib.log import get_logger

log = get_logger("storage")

# Options whose value may be a secret: an error about them never repeats the driver's reason (it quotes values).
SECRET_OPTIONS = {"tlscertificatekeyfilepassword", "authmechanismproperties"}


def without_secret(message: str, uri: str) -> str:
    """The message with the URI's user info (user:password) blanked, should a driver ever echo it."""
    _scheme, _, rest = uri.partition("://")
    userinfo = rest.rpartition("@")[0]
    return message.replace(userinfo, "***") if userinfo else message


def host_of(uri: str) -> str:
    """The host list of a MongoDB URI, without user info, database or options (the driver's own split)."""
    rest = uri.partition("://")[2]
    return rest.partition("?")[0].partition("/")[0].rpartition("@")[2]


def checked_uri(uri: str) -> str:
    """`uri` without the options MongoDB does not know (each one logged as one warning line); ConfigError naming
    the option when a known option has an invalid value (`tls=maybe`), which the driver would only warn about and
    ignore, leaving e.g. TLS off."""
    head, question, query = uri.partition("?")
    if not question or not query or ("&" in query and ";" in query):
        return uri  # nothing to check, or separators mixed: the driver refuses the URI as malformed (exit 2)
    separator = ";" if ";" in query else "&"
    kept = []
    for pair in query.split(separator):
        key, equals, value = pair.partition("=")
        if not equals:
            kept.append(pair)  # not key=value: the driver's parser refuses the whole URI (exit 2)
            continue
        if key.lower() not in URI_OPTIONS_VALIDATOR_MAP:
            close = difflib.get_close_matches(key.lower(), URI_OPTIONS_VALIDATOR_MAP, n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]}?)" if close else ""
            log.warning("MONGODB_URI option %r is not a MongoDB option%s: ignored; remove or correct it in .env",
                        key, hint)
            continue
        try:
            split_options(pair, validate=True, warn=False)
        except (ConfigurationError, ValueError, TypeError) as exc:
            secret = key.lower() in SECRET_OPTIONS
            reason = "an invalid value (not shown: it may be a secret)" if secret else str(exc)
            raise ConfigError(f"MONGODB_URI option {key}: {without_secret(reason, uri)}; fix it in .env") from None
        kept.append(pair)
    return f"{head}?{separator.join(kept)}" if kept else head


@contextmanager
def driver_warnings_logged(uri: str) -> Iterator[None]:
    """Log what the driver warns about while a client is made (a deprecated or duplicate option, an option
    from an SRV cluster's TXT record) as one line each, instead of a 3-line UserWarning with a source path."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        log.warning("MONGODB_URI: %s", without_secret(str(warning.message), uri))


def construction_error(exc: ConfigurationError | ValueError, uri: str) -> PipelineError:
    """What a client that could not be made means: a `mongodb+srv://` name that DNS could not look up is
    transient (a DNS or network outage; exit 1), anything else is MONGODB_URI to fix (exit 2)."""
    cause = exc.__cause__
    reason = without_secret(str(exc), uri).strip().rstrip(":").strip()
    host = host_of(uri)
    if isinstance(cause, dns.resolver.NoAnswer):
        # The name exists but publishes no SRV record: the address is not an SRV cluster's, retrying won't help.
        return ConfigError(
            f"MONGODB_URI: {host} has no SRV record (mongodb+srv:// needs one, Atlas clusters have it); "
            "for a single server write mongodb://host:port/ in .env"
        )
    if isinstance(cause, dns.exception.DNSException):
        # Timeout, no nameserver answering, NXDOMAIN: like an unresolvable mongodb:// host, worth another run.
        return TransientSourceError(
            f"MongoDB host {host} could not be looked up in DNS (mongodb+srv://): {reason}; try again later, "
            "and check the host name in MONGODB_URI if this lasts"
        )
    return ConfigError(
        f"MONGODB_URI is not a usable MongoDB address: {reason}; fix it in .env (write a user name or password "
        "with @ : / ? # [ ] % percent-encoded, @ as %40)"
    )

