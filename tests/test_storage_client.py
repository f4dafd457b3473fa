"""The MongoDB client (lib/storage/client.py, lib/storage/uri.py): a server that stops answering fails each
operation within its bound, and MONGODB_URI's problems are one line each, transient or a setting to fix. Only
loopback: the stalled server is tests/fake_mongo.py, DNS is replaced."""

from __future__ import annotations

import logging
import warnings

import dns.name
import dns.resolver
import pytest
from pymongo.errors import PyMongoError

from lib.errors import ConfigError, TransientSourceError
from lib.storage import Storage, close_clients, get_client
from tests.fake_mongo import StalledMongo, within


@pytest.fixture(autouse=True)
def _closed_clients():
    yield
    close_clients()  # no driver monitor thread outlives a test


@pytest.fixture
def stalled():
    with StalledMongo() as server:
        yield server


def test_every_operation_on_a_server_that_stops_answering_fails_within_the_operation_timeout(stalled):
    client = get_client(stalled.uri, timeout_seconds=2, operation_timeout_seconds=0.5)
    for name, call in [
        ("find", lambda: list(client.demo.things.find({}))),
        ("insert", lambda: client.demo.things.insert_many([{"x": 1}, {"x": 2}])),
        ("delete", lambda: client.demo.things.delete_many({})),
    ]:
        raised, seconds = within(10, call)
        assert isinstance(raised, PyMongoError) and raised.timeout, (name, raised)
        assert 0.4 < seconds < 2.5, (name, seconds)
        assert name in stalled.unanswered  # it was sent and left unanswered: a stall, not a refusal


def test_a_ping_the_server_does_not_answer_is_one_transient_line_within_its_bound(stalled):
    storage = Storage(get_client(stalled.uri, timeout_seconds=2, operation_timeout_seconds=60))
    raised, seconds = within(10, lambda: storage.ping(0.5))
    assert seconds < 2.5
    assert isinstance(raised, TransientSourceError)
    assert str(raised) == (
        f"MongoDB did not answer in time: NetworkTimeout: 127.0.0.1:{stalled.port}: timed out; the server accepts "
        "connections but does not reply (overloaded or stuck?): try again later"
    )


def _srv_lookup_fails(monkeypatch, error: Exception) -> list[str]:
    """Make every DNS query fail with `error` (no packet leaves the machine); returns the names asked for."""
    asked: list[str] = []

    def resolve(qname, rdtype, **_kwargs):
        asked.append(f"{qname} {rdtype}")
        raise error

    monkeypatch.setattr(dns.resolver, "resolve", resolve)
    return asked


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (dns.resolver.LifetimeTimeout(timeout=10.0, errors=[]), "The resolution lifetime expired after 10.000 seconds"),
        (dns.resolver.NoNameservers(), "All nameservers failed to answer the query."),
        (dns.resolver.NXDOMAIN(qnames=[dns.name.from_text("_mongodb._tcp.cluster0.example.invalid")]),
         "The DNS query name does not exist: _mongodb._tcp.cluster0.example.invalid."),
    ],
)
def test_an_srv_name_dns_cannot_look_up_is_transient_and_names_the_host(monkeypatch, error, reason):
    asked = _srv_lookup_fails(monkeypatch, error)
    with pytest.raises(TransientSourceError) as raised:
        get_client("mongodb+srv://app:s3cret@cluster0.example.invalid/?retryWrites=true", 2, 2)
    assert asked == ["_mongodb._tcp.cluster0.example.invalid SRV"]
    assert str(raised.value) == (
        f"MongoDB host cluster0.example.invalid could not be looked up in DNS (mongodb+srv://): {reason}; "
        "try again later, and check the host name in MONGODB_URI if this lasts"
    )
    assert "s3cret" not in str(raised.value)


def test_an_srv_name_without_an_srv_record_is_a_setting_to_fix(monkeypatch):
    _srv_lookup_fails(monkeypatch, dns.resolver.NoAnswer())
    with pytest.raises(ConfigError, match=r"^MONGODB_URI: db.example.org has no SRV record .* mongodb://host:port/"):
        get_client("mongodb+srv://db.example.org/", 2, 2)


def test_an_unknown_uri_option_is_one_warning_line_and_the_client_is_made(caplog, recwarn):
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        client = get_client("mongodb://127.0.0.1:1/?retryWrite=true&appName=pipeline", 2, 2)
    assert [r.getMessage() for r in caplog.records] == [
        "MONGODB_URI option 'retryWrite' is not a MongoDB option (did you mean retrywrites?): ignored; "
        "remove or correct it in .env"
    ]
    assert client.options.pool_options.metadata["application"]["name"] == "pipeline"  # known options kept
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]  # no 3-line driver warning


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("tls=maybe", "MONGODB_URI option tls: The value of tls must be 'true' or 'false'; fix it in .env"),
        ("maxPoolSize=-3", "MONGODB_URI option maxPoolSize: The value of maxpoolsize must be a non negative "
                           "integer; fix it in .env"),
        ("authMechanismProperties=TOKEN:abc123", "MONGODB_URI option authMechanismProperties: an invalid value "
                                                  "(not shown: it may be a secret); fix it in .env"),
    ],
)
def test_an_invalid_value_of_a_known_uri_option_is_refused_in_one_line(query, message):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the driver would only warn and go on without the option
        with pytest.raises(ConfigError) as raised:
            get_client(f"mongodb://app:s3cret@127.0.0.1:1/?{query}", 2, 2)
    assert str(raised.value) == message


def test_a_malformed_uri_is_still_a_setting_to_fix_without_the_password():
    with pytest.raises(ConfigError) as raised:
        get_client("mongodb://app:s3cret@127.0.0.1:1/?tls=true&x=1;y=2", 2, 2)
    assert str(raised.value).startswith("MONGODB_URI is not a usable MongoDB address: ")
    assert "s3cret" not in str(raised.value)
