"""Every URL and host a plugin's connection names, through `apply` with a real key: ApiConnection
`baseUrl`, SqlConnection `hostname`, an ApiPlugin's `endpoint` and header values. Each spelling of
a refused address, and each value that cannot be normalised or would split a request, answers 400
at its field and stores nothing. A row stored before these checks is refused when it is used."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import database_snapshot
from smarter.apps.plugin.execution import plugin_execute
from smarter.apps.plugin.models import ApiConnection, Plugin, SqlConnection
from smarter.apps.plugin.tests.conftest import apply, manifest
from smarter.lib import outbound
from smarter.testing import spellings
from smarter.testing.spellings import LOOPBACK_SPELLINGS, METADATA_SPELLINGS, PRIVATE_SPELLINGS, UNNORMALISABLE_HOSTS

pytestmark = pytest.mark.django_db

REFUSED_HOSTS = LOOPBACK_SPELLINGS + PRIVATE_SPELLINGS + METADATA_SPELLINGS
NOT_IDNA = [
    ("\u2603.example.com", "not a valid international domain name", "a snowman"),
    ("\U0001f4a9.example.com", "not a valid international domain name", "an emoji"),
    ("a\u200db.example.com", "not a valid international domain name", "a joiner out of context"),
    ("xn--zz.example.com", "not a valid international domain name", "an invalid A-label"),
    ("-api.example.com", "not a valid host name", "a label starting with a dash"),
]


def ids(table: list[tuple[str, str, str]]) -> list[str]:
    return [f"{what}: {host.encode('unicode_escape').decode()}" for host, _reason, what in table]


@pytest.fixture
def strict(smarter_settings: Any) -> Any:
    smarter_settings.allow_private_hosts = False
    return smarter_settings


def api_connection(base_url: str, name: str = "crm") -> dict[str, Any]:
    return manifest("ApiConnection", name, {"connection": {"baseUrl": base_url, "timeout": 1}})


def sql_connection(hostname: str, name: str = "warehouse") -> dict[str, Any]:
    return manifest(
        "SqlConnection",
        name,
        {"connection": {"dbEngine": "mysql", "hostname": hostname, "database": "shop", "username": "reader"}},
    )


def api_plugin(endpoint: str = "/items", headers: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return manifest(
        "ApiPlugin",
        "lookup",
        {
            "selector": {"directive": "always"},
            "connection": "crm",
            "apiData": {"description": "Look items up", "endpoint": endpoint, "headers": headers or []},
        },
    )


def refused_at(response: Any, loc: str) -> str:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["errorClass"] == "ValidationError" and body["status"] == 400
    assert [error["loc"] for error in body["errors"]] == [loc]
    return str(body["errors"][0]["msg"])


@pytest.fixture
def crm(owner: Persona, strict: Any) -> Iterator[None]:
    """An ApiConnection to a public-looking name; for the test it resolves to loopback (refused),
    so its health check never leaves the machine."""
    with outbound.override_host("crm.example.com", ["127.0.0.1"]):
        assert apply(owner, api_connection("https://crm.example.com/api")).status_code == 200
        yield


# --- ApiConnection spec.connection.baseUrl -----------------------------------------------------------
@pytest.mark.parametrize(("host", "reason", "what"), REFUSED_HOSTS, ids=ids(REFUSED_HOSTS))
def test_an_api_base_url_spelling_a_refused_address_is_refused_and_nothing_is_stored(
    strict: Any, owner: Persona, host: str, reason: str, what: str
) -> None:
    message = refused_at(apply(owner, api_connection(f"http://{host}:8080/api")), "spec.connection.baseUrl")
    assert message.startswith(f"{host} may not be reached: ") and reason in message
    assert ApiConnection.objects.count() == 0


@pytest.mark.parametrize(
    ("host", "message", "what"), UNNORMALISABLE_HOSTS + NOT_IDNA, ids=ids(UNNORMALISABLE_HOSTS + NOT_IDNA)
)
def test_an_api_base_url_whose_host_is_not_a_host_is_a_400_not_a_500(
    strict: Any, owner: Persona, host: str, message: str, what: str
) -> None:
    assert message in refused_at(apply(owner, api_connection(f"https://{host}/api")), "spec.connection.baseUrl")
    assert ApiConnection.objects.count() == 0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://crm.example.com/api v2", "must not contain a space"),
        ("https://crm example.com/api", "must not contain a space"),
        ("https://crm.example.com/api\r\nHost: 169.254.169.254", "U+000D"),
        ("https://crm.example.com/a\nb", "U+000A"),
        ("https://crm.example.com/a\x00", "U+0000"),
        ("https://crm.example.com\\@127.0.0.1/", "backslash"),
        ("https://admin:hunter2@crm.example.com/", "credentials in the URL are not accepted"),
        ("https://crm.example.com:0/", "the port must be a number from 1 to 65535"),
        ("https://crm.example.com:65536/", "the port must be a number from 1 to 65535"),
        ("gopher://crm.example.com/", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("crm.example.com/api", "must be an http:// or https:// URL"),
    ],
)
def test_an_api_base_url_that_is_not_a_clean_url_is_refused(
    strict: Any, owner: Persona, url: str, message: str
) -> None:
    assert message in refused_at(apply(owner, api_connection(url)), "spec.connection.baseUrl")
    assert ApiConnection.objects.count() == 0


def test_an_api_base_url_is_stored_as_the_client_will_read_it(strict: Any, owner: Persona) -> None:
    written = f"HTTPS://{spellings.fullwidth_letters('crm')}.Exämple{spellings.IDEOGRAPHIC_FULL_STOP}COM./api/v2"
    with outbound.override_host("crm.xn--exmple-cua.com", ["127.0.0.1"]):
        response = apply(owner, api_connection(written))
    assert response.status_code == 200, response.content
    assert ApiConnection.objects.get().base_url == "https://crm.xn--exmple-cua.com/api/v2"
    assert (
        response.json()["data"]["manifest"]["spec"]["connection"]["baseUrl"] == "https://crm.xn--exmple-cua.com/api/v2"
    )


@pytest.mark.parametrize(("host", "reason", "what"), METADATA_SPELLINGS, ids=ids(METADATA_SPELLINGS))
def test_the_private_hosts_setting_never_opens_metadata_to_a_connection(
    smarter_settings: Any, owner: Persona, host: str, reason: str, what: str
) -> None:
    smarter_settings.allow_private_hosts = True
    assert reason in refused_at(apply(owner, api_connection(f"http://{host}/latest")), "spec.connection.baseUrl")
    assert reason in refused_at(apply(owner, sql_connection(host)), "spec.connection.hostname")
    assert ApiConnection.objects.count() == 0 and SqlConnection.objects.count() == 0


def test_every_persona_is_refused_the_same_and_no_account_changes(
    crm: None, owner: Persona, teammate: Persona, outsider: Persona
) -> None:
    before = database_snapshot()
    fullwidth = spellings.digits("169.254.169.254", spellings.FULLWIDTH_DIGITS)
    for persona in (owner, teammate, outsider):
        message = refused_at(apply(persona, api_connection(f"http://{fullwidth}/latest")), "spec.connection.baseUrl")
        assert message == f"{fullwidth} may not be reached: 169.254.169.254 is a cloud metadata address"
        refused_at(apply(persona, sql_connection(fullwidth)), "spec.connection.hostname")
    assert database_snapshot() == before
    assert list(ApiConnection.objects.values_list("account__company_name", "base_url")) == [
        ("Acme", "https://crm.example.com/api")
    ]


# --- SqlConnection spec.connection.hostname ----------------------------------------------------------
@pytest.mark.parametrize(("host", "reason", "what"), REFUSED_HOSTS, ids=ids(REFUSED_HOSTS))
def test_a_database_host_spelling_a_refused_address_is_refused_and_nothing_is_stored(
    strict: Any, owner: Persona, host: str, reason: str, what: str
) -> None:
    message = refused_at(apply(owner, sql_connection(host)), "spec.connection.hostname")
    assert reason in message
    assert SqlConnection.objects.count() == 0


@pytest.mark.parametrize(
    ("host", "message", "what"), UNNORMALISABLE_HOSTS + NOT_IDNA, ids=ids(UNNORMALISABLE_HOSTS + NOT_IDNA)
)
def test_a_database_host_that_is_not_a_host_is_refused(
    strict: Any, owner: Persona, host: str, message: str, what: str
) -> None:
    assert message in refused_at(apply(owner, sql_connection(host)), "spec.connection.hostname")
    assert SqlConnection.objects.count() == 0


@pytest.mark.parametrize("host", ["db.example.com/x", "db.example.com:3306", "db example.com", "db\r\n.example.com"])
def test_a_database_host_is_a_host_and_nothing_more(strict: Any, owner: Persona, host: str) -> None:
    refused_at(apply(owner, sql_connection(host)), "spec.connection.hostname")
    assert SqlConnection.objects.count() == 0


def test_a_database_host_is_stored_normalised(strict: Any, owner: Persona) -> None:
    with outbound.override_host("db.example.com", ["127.0.0.1"]):
        response = apply(owner, sql_connection(f"{spellings.fullwidth_letters('DB', capital=False)}.Example.COM."))
    assert response.status_code == 200, response.content
    assert SqlConnection.objects.get().hostname == "db.example.com"


class _Listener:
    """A bare TCP listener on loopback standing in for a database server: it counts connections."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        self.socket.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _address = self.socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.socket.close()


@pytest.fixture
def listener() -> Iterator[_Listener]:
    stand_in = _Listener()
    yield stand_in
    stand_in.close()


@pytest.mark.parametrize(
    "hostname",
    [
        spellings.digits("127.0.0.1", spellings.FULLWIDTH_DIGITS),
        spellings.dots("127.0.0.1", spellings.IDEOGRAPHIC_FULL_STOP),
        spellings.circled("127.0.0.1"),
        spellings.fullwidth_letters("localhost"),
        "0x7f.1",
    ],
    ids=["fullwidth digits", "ideographic stops", "circled digits", "fullwidth name", "hexadecimal"],
)
def test_a_stored_database_host_in_any_spelling_is_refused_before_the_driver_connects(
    strict: Any, owner: Persona, listener: _Listener, hostname: str
) -> None:
    with outbound.override_host("db.example.com", ["127.0.0.1"]):
        assert apply(owner, sql_connection("db.example.com")).status_code == 200
        plugin = manifest(
            "SqlPlugin",
            "stock",
            {
                "selector": {"directive": "always"},
                "connection": "warehouse",
                "sqlData": {"description": "Stock", "sqlQuery": "SELECT 1 AS one"},
            },
        )
        assert apply(owner, plugin).status_code == 200
    # As a row stored before apply normalised hosts would be: written directly, in a Unicode spelling.
    SqlConnection.objects.update(hostname=hostname, port=listener.port)
    result = plugin_execute(plugin=Plugin.objects.get(name="stock"), arguments={})
    # The normalised host, resolved: the address (or the name, and what it resolves to) is named.
    assert result.error is not None
    assert re.fullmatch(
        r"(127\.0\.0\.1|localhost) may not be reached: (127\.0\.0\.1|::1) is a loopback address", result.error
    )
    assert listener.accepted == 0
    # The stand-in is reachable: allowed, the same row makes the driver connect to it.
    strict.allow_private_hosts = True
    assert plugin_execute(plugin=Plugin.objects.get(name="stock"), arguments={}).error is not None
    deadline = time.monotonic() + 2
    while listener.accepted == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert listener.accepted >= 1


# --- ApiPlugin spec.apiData.endpoint and headers -----------------------------------------------------
@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://169.254.169.254/latest", "must be a path under the connection's baseUrl"),
        ("https://evil.example/x", "must be a path under the connection's baseUrl"),
        ("//evil.example/x", "must be a path under the connection's baseUrl"),
        ("/items HTTP/1.1\r\nHost: evil.example", "must not contain a space"),
        ("/items\r\nX-Injected: 1", "U+000D"),
        ("/items\nX-Injected: 1", "U+000A"),
        ("/items/{id}\x00", "U+0000"),
        ("/items\u2028next", "U+2028"),
        ("/items\u0085next", "U+0085"),
        ("/items and more", "must not contain a space"),
        ("/items\\..\\admin", "backslash"),
    ],
)
def test_an_api_plugin_endpoint_that_is_not_a_clean_path_is_refused(
    crm: None, owner: Persona, endpoint: str, message: str
) -> None:
    assert message in refused_at(apply(owner, api_plugin(endpoint)), "spec.apiData.endpoint")
    assert Plugin.objects.count() == 0


@pytest.mark.parametrize(
    "value",
    [
        "json\r\nX-Injected: 1",
        "json\nX-Injected: 1",
        "json\rX-Injected: 1",
        "json\r\n\r\nGET /admin HTTP/1.1",
        "a\x00b",
        "a\x0bb",
        "a\x7fb",
        "caf\u00e9",
        "a\u2028b",
        "a\u0085b",
    ],
)
def test_an_api_plugin_header_value_that_could_split_the_request_is_refused_at_apply(
    crm: None, owner: Persona, teammate: Persona, value: str
) -> None:
    for persona in (owner, teammate):
        message = refused_at(
            apply(persona, api_plugin(headers=[{"name": "Accept", "value": value}])), "spec.apiData.headers[0].value"
        )
        assert message.startswith("must be printable ASCII on one line")
    assert Plugin.objects.count() == 0


def test_a_clean_endpoint_and_header_are_kept_as_written(crm: None, owner: Persona) -> None:
    headers = [{"name": "Accept", "value": "application/json; q=0.9"}, {"name": "X-Tabs", "value": "a\tb"}]
    response = apply(owner, api_plugin("/items/{id}?fields=all&sort=-price", headers))
    assert response.status_code == 200, response.content
    stored = Plugin.objects.get()
    assert stored.data["endpoint"] == "/items/{id}?fields=all&sort=-price"
    assert stored.data["headers"] == headers
