"""No credential leaves through a plugin's result: targets on loopback that echo what they were
sent (in a JSON, text, HTML or error body, URL-encoded, escaped, in a redirect, across a cut), and
a database server that quotes the password in its error. The plugin test endpoint, describe and
the log records show `***` and none of the credential's forms."""

from __future__ import annotations

import base64
import html
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from smarter.apps.plugin.tests.conftest import apply, make_secret, manifest
from smarter.apps.plugin.tests.echo_server import EchoServer, echo_server, postgres_echo_server

pytestmark = pytest.mark.django_db

SECRETS = ["plain-token-1234567890", 'S3cr3t/t0k+en"&<v>=x']
USERNAME = "ada"
AUTH = {
    "token": {"authMethod": "token", "apiKey": "api_secret"},
    "basic": {"authMethod": "basic", "apiKey": "api_secret", "username": USERNAME},
    "header": {"authMethod": "header", "apiKey": "api_secret", "headerName": "X-Secret-Token"},
}
# What the target quotes back once each credential is scrubbed: the header it received and,
# for basic, the pair it decoded.
SCRUBBED_WORDS = {"token": "Bearer ***", "basic": f"Basic *** {USERNAME}:***", "header": "***"}


def leaked_forms(secret: str) -> list[str]:
    """Every way the secret could show up, worked out here rather than taken from the code under
    test; the first characters too, which is what a cut through the middle would leave."""
    pair = base64.b64encode(f"{USERNAME}:{secret}".encode()).decode()
    return [
        secret,
        secret[:6],
        quote(secret, safe=""),
        quote(secret, safe="").lower(),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        html.escape(secret),
        pair,
        pair.rstrip("="),
        pair[:6],
    ]


def strings_in(value: Any) -> list[str]:
    """Every string of a JSON value, keys included, decoded (so escapes cannot hide anything)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (*strings_in(key), *strings_in(item))]
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return [str(value)]


def assert_no_secret(secret: str, *texts: str) -> None:
    for text in texts:
        for form in leaked_forms(secret):
            assert form not in text, (form, text[:500])


@pytest.fixture(params=SECRETS, ids=["plain", "special"])
def secret(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def echo(private_hosts: Any) -> Iterator[EchoServer]:
    with echo_server() as server:
        yield server


def echo_plugin(owner: Any, echo: EchoServer, secret: str, auth: str, route: str) -> None:
    make_secret(owner, "api_secret", secret)
    connection = {"baseUrl": echo.url, "timeout": 5, **AUTH[auth]}
    assert apply(owner, manifest("ApiConnection", "echo_api", {"connection": connection})).status_code == 200
    plugin = manifest(
        "ApiPlugin",
        "echo",
        {
            "selector": {"directive": "always"},
            "connection": "echo_api",
            "apiData": {"description": "Look up the account status", "endpoint": route},
        },
    )
    assert apply(owner, plugin).status_code == 200


def run_test(owner: Any) -> tuple[dict[str, Any], str]:
    response = owner.client.post("/api/v1/plugins/echo/test/", {}, format="json")
    assert response.status_code == 200, response.content
    return response.json(), response.content.decode()


ROUTES = ["/json", "/json-escaped", "/status/401", "/status/403", "/text", "/html", "/url-encoded"]
ROUTES += ["/redirect", "/long-text", "/long-error"]


@pytest.mark.parametrize("auth", sorted(AUTH))
@pytest.mark.parametrize("route", ROUTES)
def test_a_target_echoing_the_credential_shows_stars_in_the_test_result_and_the_logs(
    owner: Any, echo: EchoServer, secret: str, auth: str, route: str, caplog: pytest.LogCaptureFixture
) -> None:
    echo_plugin(owner, echo, secret, auth, route)
    echo.requests.clear()
    caplog.set_level(logging.DEBUG)
    body, raw = run_test(owner)
    sent = echo.requests[0]
    assert secret in (sent.get("Authorization", "") + sent.get("X-Secret-Token", "")) or (
        sent["Authorization"] == "Basic " + base64.b64encode(f"{USERNAME}:{secret}".encode()).decode()
    )
    assert "***" in json.dumps(body)
    assert_no_secret(secret, raw, "\n".join(strings_in(body)))
    assert_no_secret(secret, caplog.text, *(record.getMessage() for record in caplog.records))


def retarget(owner: Any, route: str) -> None:
    plugin = manifest(
        "ApiPlugin",
        "echo",
        {
            "selector": {"directive": "always"},
            "connection": "echo_api",
            "apiData": {"description": "Look up the account status", "endpoint": route},
        },
    )
    assert apply(owner, plugin).status_code == 200


@pytest.mark.parametrize("auth", sorted(AUTH))
def test_what_the_tester_reads_is_the_echo_with_each_credential_replaced(
    owner: Any, echo: EchoServer, secret: str, auth: str
) -> None:
    words = SCRUBBED_WORDS[auth]
    expected = {
        "/text": ("result", f"Your request carried {words}."),
        "/json-escaped": ("result", {"youSent": words}),
        "/html": ("result", f"<p>Hello {words}</p>"),
        "/status/403": ("error", f"the API answered HTTP 403: Forbidden. You sent: {words}"),
        "/status/401": (
            "error",
            "the API answered HTTP 401: " + json.dumps({"error": {"message": f"Invalid credentials: {words}"}}),
        ),
    }
    echo_plugin(owner, echo, secret, auth, "/json")
    assert run_test(owner)[0]["result"]["youSent"] == {
        "authorization": {"token": "Bearer ***", "basic": "Basic ***", "header": None}[auth],
        "token": "***" if auth == "header" else None,
        "basicPair": f"{USERNAME}:***" if auth == "basic" else None,
    }
    for route, (field, value) in expected.items():
        retarget(owner, route)
        assert run_test(owner)[0][field] == value, route


def test_a_cut_through_the_middle_of_an_echoed_credential_leaves_none_of_it(owner: Any, echo: EchoServer) -> None:
    secret = "plain-token-1234567890"
    echo_plugin(owner, echo, secret, "header", "/long-text")
    result = run_test(owner)[0]["result"]
    assert result == ("x" * (8000 - len(secret) // 2) + "*** and after it ***")[:8000]
    retarget(owner, "/long-error")
    error = run_test(owner)[0]["error"]
    assert error == "the API answered HTTP 500: " + ("y" * (200 - len(secret) // 2) + "*** ***")[:200]


def test_a_redirect_that_carries_the_credential_in_its_url_is_scrubbed_from_the_result_and_the_log(
    owner: Any, echo: EchoServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret = 'S3cr3t/t0k+en"&<v>=x'
    echo_plugin(owner, echo, secret, "token", "/redirect")
    caplog.set_level(logging.INFO, logger="httpx")
    caplog.clear()
    body, _ = run_test(owner)
    assert body["result"] == {"landedWith": {"authorization": ["Bearer ***"]}}
    requested = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert requested == [
        f'HTTP Request: GET {echo.url}/redirect "HTTP/1.1 302 Found"',
        f'HTTP Request: GET {echo.url}/landing?authorization=Bearer%20*** "HTTP/1.1 200 OK"',
    ]


# --- a database that quotes the password back -----------------------------------------------------
@pytest.mark.parametrize("password", ["pg-pass-9876-zyx", 'p@ss/w0rd "quoted" & ünïcode'])
def test_a_database_error_quoting_the_password_shows_stars_in_the_test_result_and_describe(
    owner: Any, private_hosts: Any, password: str, caplog: pytest.LogCaptureFixture
) -> None:
    make_secret(owner, "warehouse_password", password)
    with postgres_echo_server() as database:
        connection = {
            "dbEngine": "postgresql",
            "hostname": "127.0.0.1",
            "port": database.port,
            "database": "warehouse",
            "username": "reader",
            "password": "warehouse_password",
            "timeout": 5,
        }
        applied = apply(owner, manifest("SqlConnection", "warehouse", {"connection": connection}))
        assert applied.status_code == 200
        plugin = {
            "selector": {"directive": "always"},
            "connection": "warehouse",
            "sqlData": {"description": "Anything", "sqlQuery": "SELECT 1 AS one"},
        }
        assert apply(owner, manifest("SqlPlugin", "echo", plugin)).status_code == 200
        caplog.set_level(logging.DEBUG)
        body, raw = run_test(owner)
        described = owner.client.get("/api/v1/cli/describe/sqlconnection/?name=warehouse")
    assert password in database.received  # the server really was sent the password, in clear
    assert body["error"].startswith("could not connect to the database: ")
    assert "password authentication failed: you sent *** (url ***, json ***)" in body["error"]
    health = described.json()["data"]["status"]["health"]
    assert health["reachable"] is False
    assert "you sent *** (url ***, json ***)" in health["detail"]
    texts = [raw, body["error"], described.content.decode(), health["detail"], caplog.text]
    for text in texts:
        for form in (password, quote(password, safe=""), json.dumps(password)[1:-1], password[:6]):
            assert form not in text
