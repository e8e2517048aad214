"""Headers and URL paths a client controls: whatever bytes arrive in them, every route answers
below 500. Malformed HTTP (CR or LF in a header value, a space in a path) is refused by the
server before any view; everything a well-formed request can carry is the views' to refuse."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.doors import ROOT_DOMAIN, Platform
from smarter.apps.api.tests.helpers import database_snapshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def platform(asgi_server: Any, owner: Persona, smarter_settings: Any) -> Iterator[Platform]:
    smarter_settings.root_domain = ROOT_DOMAIN
    smarter_settings.llm_provider = "offline"
    served = Platform(asgi_server, owner)
    yield served
    served.close()


def raw_request(platform: Platform, request: bytes) -> bytes:
    host, port = platform.server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while not received.endswith(b"\r\n\r\n") and b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return received.split(b"\r\n", 1)[0]


MALFORMED = {
    "cr-in-value": b"GET /api/v1/cli/whoami/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token a\rb\r\n\r\n",
    "lf-in-value": b"GET /api/v1/cli/whoami/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: a\nInjected: 1\r\n\r\n",
    "nul-in-value": b"GET /api/v1/cli/whoami/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token a\x00b\r\n\r\n",
    "space-in-path": b"GET /api/v1/cli/describe/chatbot/a b/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "tab-in-path": b"GET /api/v1/cli/describe/chatbot/a\tb/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "control-in-path": b"GET /api/v1/usage/\x01 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "space-in-header-name": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX Bad: 1\r\n\r\n",
    "obsolete-line-folding": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Folded: a\r\n b\r\n\r\n",
    "two-content-lengths": b"POST /chat/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "negative-content-length": b"POST /api/v1/cli/apply/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_http_is_refused_with_400_before_any_view(platform: Platform, request_bytes: bytes) -> None:
    before = database_snapshot()
    status_line = raw_request(platform, request_bytes)
    assert status_line.startswith(b"HTTP/1.1 4"), status_line
    assert database_snapshot() == before


WELL_FORMED_BUT_HOSTILE = {
    "percent-encoded-space": "/api/v1/cli/describe/chatbot/a%20b/",
    "percent-encoded-nul": "/api/v1/cli/describe/chatbot/a%00b/",
    "nul-in-query": "/api/v1/cli/describe/chatbot/?name=a%00b",
    "crlf-in-query": "/api/v1/cli/get/chatbot/?name=a%0D%0ALocation:%20x",
    "crlf-in-path": "/dashboard/chatbots/a%0D%0Ab/",
    "overlong-utf8": "/api/v1/cli/describe/chatbot/%C0%AF/",
    "invalid-utf8": "/api/v1/cli/describe/chatbot/%FF%FE/",
    "lone-surrogate": "/api/v1/cli/describe/chatbot/%ED%A0%80/",
    "name-255": "/api/v1/cli/describe/chatbot/" + "a" * 255 + "/",
    "name-10000": "/api/v1/cli/describe/chatbot/?name=" + "a" * 10_000,
    "huge-version": "/api/v1/chatbots/shop/versions/" + "9" * 40 + "/",
    "huge-diff": "/api/v1/chatbots/shop/versions/1/diff/" + "9" * 5000 + "/",
    "huge-rollback": "/api/v1/chatbots/shop/versions/" + "9" * 30 + "/rollback/",
    "dot-segments": "/api/v1/cli/../../dashboard/",
    "kind-unicode": "/api/v1/cli/get/" + quote("Chätbot") + "/",
    "turn-huge": "/dashboard/chatbots/shop/sandbox/turns/" + "9" * 30 + "/",
    "logs-nul": "/api/v1/cli/logs/chat/?name=%00",
    "journal-params": "/api/v1/journal/?limit=-1&offset=99999999999999999999&kind=%00",
}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", WELL_FORMED_BUT_HOSTILE.values(), ids=WELL_FORMED_BUT_HOSTILE.keys())
def test_a_hostile_path_answers_below_500(platform: Platform, path: str, method: str) -> None:
    headers = {"Authorization": f"Token {platform.owner.key}", "Cookie": f"sessionid={platform.session}"}
    response = platform.http.request(method, path, headers=headers)
    assert response.status_code < 500, (path, response.status_code, response.text[:300])
    if path.startswith("/api/") and response.status_code >= 400:
        assert response.json()["status"] == response.status_code


# Latin-1 text without CR, LF or NUL: what a well-formed request may carry in a header value.
HEADER_VALUE = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=80
)
HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "Authorization",
            "Host",
            "Origin",
            "Cookie",
            "X-Request-ID",
            "X-Forwarded-For",
            "X-Forwarded-Proto",
            "X-Forwarded-Host",
            "Content-Type",
            "Accept",
            "Accept-Language",
            "User-Agent",
            "X-CSRFToken",
            "Range",
        ]
    ),
    HEADER_VALUE
    | st.sampled_from(["Token ", "Bearer ", "Token smarter_", "Basic Og==", "application/json; charset=x"]),
    max_size=5,
)
ROUTES = [
    ("GET", "/api/v1/cli/whoami/"),
    ("POST", "/api/v1/cli/get/chatbot/"),
    ("GET", "/api/v1/usage/"),
    ("GET", "/api/v1/journal/"),
    ("POST", "/api/v1/chatbots/shop/chat/"),
    ("GET", "/api/v1/chatbots/shop/config/"),
    ("POST", "/api/v1/openai/chat/completions"),
    ("GET", "/api/v1/openai/models"),
    ("POST", "/api/v1/plugins/catalogue/test/"),
    ("GET", "/api/schema/"),
    ("GET", "/dashboard/"),
    ("POST", "/dashboard/chatbots/shop/sandbox/turn/"),
    ("GET", "/login/"),
    ("POST", "/chat/"),
    ("GET", "/config/"),
    ("GET", "/widget.js"),
]


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(route=st.sampled_from(ROUTES), headers=HEADERS, chatbot_host=st.booleans())
def test_any_header_values_answer_below_500(
    platform: Platform, route: tuple[str, str], headers: dict[str, str], chatbot_host: bool
) -> None:
    method, path = route
    sent = {"Authorization": f"Token {platform.owner.key}"}
    if chatbot_host:
        sent["Host"] = platform.chatbot_host
    sent.update(headers)
    body = b'{"prompt": "hi", "model": "shop", "messages": [{"role": "user", "content": "hi"}]}'
    raw_headers = [(name.encode(), value.encode("latin-1")) for name, value in sent.items()]
    try:
        response = platform.http.request(method, path, headers=raw_headers, content=body if method == "POST" else None)
    except httpx.LocalProtocolError:
        return  # not sendable as HTTP at all
    assert response.status_code < 500, (method, path, sent, response.status_code, response.text[:300])
