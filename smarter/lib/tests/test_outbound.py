"""The SSRF guard, against real sockets: a loopback HTTP server stands in for internal services."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import httpx
import pytest

from smarter.lib import outbound
from smarter.lib.outbound import OutboundRefused, address_refusal, check_url, guarded_client
from smarter.testing import spellings


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        if parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", parse_qs(parts.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"host": self.headers.get("Host"), "path": parts.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[Any]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def strict(smarter_settings: Any) -> Any:
    smarter_settings.allow_private_hosts = False
    return smarter_settings


REFUSED_HOSTS = [
    ("127.0.0.1", "loopback"),
    ("localhost", "loopback"),
    ("0x7f000001", "loopback"),
    ("2130706433", "loopback"),
    ("017700000001", "loopback"),
    ("127.1", "loopback"),
    ("[::1]", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("[::ffff:7f00:1]", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "shared"),
    ("169.254.169.254", "metadata"),
    ("169.254.1.1", "link-local"),
    ("[fd00:ec2::254]", "metadata"),
    ("[fe80::1]", "link-local"),
    ("[fc00::1]", "private"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 (a refused target, not a bind)
    ("[::]", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("[ff02::1]", "multicast"),
    ("240.0.0.1", "reserved"),
    ("[64:ff9b::7f00:1]", "loopback"),
    ("[2002:7f00:1::]", "loopback"),
]


@pytest.mark.parametrize(("host", "reason"), REFUSED_HOSTS)
def test_every_internal_address_form_is_refused(strict: Any, host: str, reason: str) -> None:
    with pytest.raises(OutboundRefused, match=reason):
        check_url(f"http://{host}/latest/meta-data/")


@pytest.mark.parametrize(("host", "reason"), REFUSED_HOSTS)
def test_the_client_never_opens_a_socket_to_them(strict: Any, server: Any, host: str, reason: str) -> None:
    port = server.server_address[1]
    with guarded_client(timeout=2) as client, pytest.raises(OutboundRefused, match=reason):
        client.get(f"http://{host}:{port}/")
    assert server.hits == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://example.com/", "ftp://example.com/"])
def test_only_http_and_https_are_allowed(url: str) -> None:
    with pytest.raises(OutboundRefused, match="only http and https"):
        check_url(url)


@pytest.mark.parametrize("url", ["/relative", "example.com/v1", "//example.com/v1"])
def test_a_url_without_a_scheme_is_refused(url: str) -> None:
    with pytest.raises(OutboundRefused, match=r"must be an http:// or https:// URL"):
        check_url(url)


def test_credentials_in_the_url_are_refused() -> None:
    with pytest.raises(OutboundRefused, match="credentials"):
        check_url("http://user:pw@example.com/")


def test_public_addresses_pass_the_check() -> None:
    assert address_refusal(ipaddress.ip_address("93.184.216.34"), allow_private=False) is None
    assert address_refusal(ipaddress.ip_address("2606:4700:4700::1111"), allow_private=False) is None


def test_a_name_is_refused_if_any_of_its_addresses_is(strict: Any) -> None:
    with (
        outbound.override_host("mixed.example", ["93.184.216.34", "10.1.2.3"]),
        pytest.raises(OutboundRefused, match=r"10\.1\.2\.3 is a private address"),
    ):
        check_url("https://mixed.example/")


def test_private_hosts_setting_opens_loopback_but_never_metadata(smarter_settings: Any, server: Any) -> None:
    smarter_settings.allow_private_hosts = True
    port = server.server_address[1]
    with guarded_client(timeout=2) as client:
        assert client.get(f"http://127.0.0.1:{port}/hello").json() == {"host": f"127.0.0.1:{port}", "path": "/hello"}
    for host in ("169.254.169.254", "[fd00:ec2::254]", "[::ffff:169.254.169.254]", "0.0.0.0"):  # noqa: S104
        with pytest.raises(OutboundRefused):
            check_url(f"http://{host}/")


def test_a_redirect_from_an_allowed_host_to_loopback_is_refused(strict: Any, server: Any) -> None:
    port = server.server_address[1]
    # "allowed.example" stands for a public host: it resolves (for this test) to the loopback
    # server and is trusted; its redirect to 127.0.0.1 must still be refused at the next hop.
    with outbound.override_host("allowed.example", ["127.0.0.1"], trusted=True), guarded_client(timeout=2) as client:
        assert client.get(f"http://allowed.example:{port}/ok").json()["host"] == f"allowed.example:{port}"
        with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1 is a loopback address"):
            client.get(f"http://allowed.example:{port}/redirect?to=http://127.0.0.1:{port}/secret")
        with pytest.raises(OutboundRefused, match="metadata"):
            client.get(f"http://allowed.example:{port}/redirect?to=http://169.254.169.254/latest/")
    assert server.hits == [
        "/ok",
        f"/redirect?to=http://127.0.0.1:{port}/secret",
        "/redirect?to=http://169.254.169.254/latest/",
    ]


def test_redirect_hops_are_capped(smarter_settings: Any, server: Any) -> None:
    smarter_settings.allow_private_hosts = True
    port = server.server_address[1]
    loop = f"http://127.0.0.1:{port}/redirect?to=http://127.0.0.1:{port}/redirect?to=http://127.0.0.1:{port}/x"
    with guarded_client(timeout=2, max_redirects=1) as client, pytest.raises(httpx.TooManyRedirects):
        client.get(loop)


def test_the_socket_goes_to_the_checked_address_not_a_second_lookup(strict: Any, server: Any) -> None:
    # The name is resolved once by the guard; the connection uses that very address. A resolver
    # answering differently later (rebinding) is never consulted: the Host header keeps the name.
    port = server.server_address[1]
    with outbound.override_host("pinned.example", ["127.0.0.1"], trusted=True), guarded_client(timeout=2) as client:
        assert client.get(f"http://pinned.example:{port}/p").json() == {"host": f"pinned.example:{port}", "path": "/p"}


def test_the_async_resolver_answers_only_checked_addresses(strict: Any, server: Any) -> None:
    # The LLM providers' aiohttp sessions for an account's own endpoint resolve through it.
    port = server.server_address[1]

    async def fetch(url: str) -> Any:
        connector = aiohttp.TCPConnector(resolver=outbound.AsyncGuardedResolver())
        async with aiohttp.ClientSession(connector=connector) as session, session.get(url) as response:
            return await response.json()

    with outbound.override_host("inside.example", ["127.0.0.1"]), pytest.raises(OutboundRefused, match="loopback"):
        asyncio.run(fetch(f"http://inside.example:{port}/secret"))
    with outbound.override_host("allowed.example", ["127.0.0.1"], trusted=True):
        # The socket goes to the checked address; the Host header keeps the name.
        assert asyncio.run(fetch(f"http://allowed.example:{port}/a")) == {
            "host": f"allowed.example:{port}",
            "path": "/a",
        }
    assert server.hits == ["/a"]


def test_literal_refusal_checks_without_dns(strict: Any) -> None:
    assert outbound.literal_refusal("0x7f000001") == "127.0.0.1 is a loopback address"
    assert outbound.literal_refusal("localhost") == "localhost is a loopback name"
    assert outbound.literal_refusal("api.example.com") is None


# --- at connect time: the address actually connected to, whatever spelling led there -------------
def _aiohttp_get(url: str) -> Any:
    async def fetch() -> Any:
        # As the providers' sessions for an account's own endpoint are built: the guard's resolver
        # for names, the guard's socket factory for every socket, IP literals included.
        connector = aiohttp.TCPConnector(
            resolver=outbound.AsyncGuardedResolver(), socket_factory=outbound.guarded_socket, use_dns_cache=False
        )
        async with aiohttp.ClientSession(connector=connector) as session, session.get(url) as response:
            return await response.json()

    return asyncio.run(fetch())


CONNECT_TIME_HOSTS = {
    "dotted": "127.0.0.1",
    "IPv4-mapped": "[::ffff:127.0.0.1]",
    "fullwidth digits": spellings.digits("127.0.0.1", spellings.FULLWIDTH_DIGITS),
    "ideographic full stops": spellings.dots("127.0.0.1", spellings.IDEOGRAPHIC_FULL_STOP),
    "circled digits": spellings.circled("127.0.0.1"),
    "mathematical bold digits": spellings.digits("127.0.0.1", spellings.MATHEMATICAL_BOLD_DIGITS),
    "the name": "localhost",
    "the name in fullwidth letters": spellings.fullwidth_letters("localhost"),
}


@pytest.mark.parametrize("spelling", CONNECT_TIME_HOSTS)
def test_aiohttp_never_opens_a_socket_to_a_refused_address_in_any_spelling(
    strict: Any, server: Any, spelling: str
) -> None:
    with pytest.raises(OutboundRefused, match="loopback"):
        _aiohttp_get(f"http://{CONNECT_TIME_HOSTS[spelling]}:{server.server_address[1]}/")
    assert server.hits == []


def test_the_socket_check_is_what_refuses_an_ip_literal_aiohttp_never_resolves(
    smarter_settings: Any, server: Any
) -> None:
    port = server.server_address[1]
    literal = f"http://{spellings.digits('127.0.0.1', spellings.FULLWIDTH_DIGITS)}:{port}/literal"
    smarter_settings.allow_private_hosts = True  # the same connector reaches the server when allowed
    assert _aiohttp_get(literal) == {"host": f"127.0.0.1:{port}", "path": "/literal"}
    smarter_settings.allow_private_hosts = False
    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1 may not be reached: 127\.0\.0\.1 is a loopback address"):
        _aiohttp_get(literal)
    assert server.hits == ["/literal"]


def test_a_trusted_test_override_is_the_only_way_past_the_socket_check(strict: Any, server: Any) -> None:
    port = server.server_address[1]
    with outbound.override_host("allowed.example", ["127.0.0.1"], trusted=True):
        assert _aiohttp_get(f"http://allowed.example:{port}/ok")["path"] == "/ok"
    with pytest.raises(OutboundRefused, match="loopback"):
        _aiohttp_get(f"http://127.0.0.1:{port}/after")
    assert server.hits == ["/ok"]


@pytest.mark.parametrize("spelling", CONNECT_TIME_HOSTS)
def test_httpx_never_opens_a_socket_to_a_refused_address_in_any_spelling(
    strict: Any, server: Any, spelling: str
) -> None:
    # httpx refuses to parse some spellings at all (InvalidURL); the rest reach the guard.
    with guarded_client(timeout=2) as client, pytest.raises((OutboundRefused, httpx.InvalidURL)):
        client.get(f"http://{CONNECT_TIME_HOSTS[spelling]}:{server.server_address[1]}/")
    assert server.hits == []


@pytest.mark.parametrize(
    "host",
    [
        spellings.digits("127.0.0.1", spellings.FULLWIDTH_DIGITS),
        spellings.circled("127.0.0.1"),
        "0x7f.1",
        "LOCALHOST.",
        spellings.fullwidth_letters("localhost"),
        "::ffff:127.0.0.1",
        "[::1]",
    ],
)
def test_a_database_host_is_normalised_before_it_is_resolved_and_checked(strict: Any, host: str) -> None:
    with pytest.raises(OutboundRefused, match="loopback"):
        outbound.check_host(host, 3306)


def test_a_test_override_names_the_normalised_host(strict: Any) -> None:
    with outbound.override_host(spellings.fullwidth_letters("api") + ".EXAMPLE.", ["93.184.216.34"]):
        assert outbound.check_host("api.example", 443) == "93.184.216.34"
        assert outbound.check_host("API.example.", 443) == "93.184.216.34"
