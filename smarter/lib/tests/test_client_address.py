"""The client's address cannot be chosen by the client: forged forwarding headers from a peer
that is not a trusted proxy change nothing (the per-visitor limit holds), and a trusted proxy's
X-Forwarded-For names each visitor behind it. Real HTTP through uvicorn on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import Chat, Turn
from smarter.apps.chatbot.tests.helpers import apply, chatbot_manifest
from smarter.lib.client_address import canonical_ip

Headers = list[tuple[str, str]]

# Each form of a forged header, as the i-th request of one client would send it.
# Per visitor and minute. Small, so that the allowance a visitor regains meanwhile (one request
# every 60 / LIMIT seconds) never arrives within one test, however slow the machine.
LIMIT = 5

FORGERIES: dict[str, Callable[[int], Headers]] = {
    "rotating X-Forwarded-For": lambda i: [("X-Forwarded-For", f"203.0.113.{i}")],
    "rotating chain": lambda i: [("X-Forwarded-For", f"203.0.113.{i}, 198.51.100.{i}")],
    "rotating right-most entry": lambda i: [("X-Forwarded-For", f"192.0.2.1, 198.51.100.{i}")],
    "two X-Forwarded-For headers": lambda i: [
        ("X-Forwarded-For", f"203.0.113.{i}"),
        ("X-Forwarded-For", f"198.51.100.{i}"),
    ],
    "spaces and empty entries": lambda i: [("X-Forwarded-For", f",  203.0.113.{i} ,\t, ,")],
    "IPv6": lambda i: [("X-Forwarded-For", f"2001:db8::{i:x}")],
    "IPv4-mapped IPv6": lambda i: [("X-Forwarded-For", f"::ffff:203.0.113.{i}")],
    "address with a port": lambda i: [("X-Forwarded-For", f"203.0.113.{i}:4711")],
    "garbage": lambda i: [("X-Forwarded-For", f"not-an-address-{i}")],
    "loopback claimed": lambda i: [("X-Forwarded-For", f"127.0.0.{i + 2}")],
    "Forwarded": lambda i: [("Forwarded", f"for=203.0.113.{i};proto=https")],
    "Forwarded IPv6": lambda i: [("Forwarded", f'for="[2001:db8::{i:x}]:4711"')],
    "X-Real-IP": lambda i: [("X-Real-IP", f"203.0.113.{i}")],
    "vendor headers": lambda i: [
        ("True-Client-IP", f"203.0.113.{i}"),
        ("CF-Connecting-IP", f"203.0.113.{i}"),
        ("X-Client-IP", f"203.0.113.{i}"),
        ("X-Cluster-Client-IP", f"203.0.113.{i}"),
    ],
    "every header at once": lambda i: [
        ("X-Forwarded-For", f"203.0.113.{i}"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "evil.test"),
        ("Forwarded", f"for=198.51.100.{i}"),
        ("X-Real-IP", f"192.0.2.{i}"),
    ],
}


@pytest.fixture
def owner(asgi_server: Any, smarter_settings: Any) -> Persona:
    smarter_settings.root_domain = "example.com"
    smarter_settings.llm_provider = "offline"
    return make_persona(make_account("Acme"), "owner", Role.ADMIN)


@pytest.fixture
def shop(owner: Persona, asgi_server: Any) -> Iterator[httpx.Client]:
    """A client of the deployed `shop` chatbot's host, connecting from 127.0.0.1."""
    apply(owner, chatbot_manifest("shop", deployed=True))
    host = f"shop.{owner.account.account_number}.api.example.com"
    with httpx.Client(base_url=asgi_server.url, headers={"Host": host}, timeout=30) as client:
        yield client


def _store(request: pytest.FixtureRequest, smarter_settings: Any, store: str) -> None:
    smarter_settings.redis_url = request.getfixturevalue("redis_url") if store == "redis" else None


def _chat(client: httpx.Client, headers: Headers) -> httpx.Response:
    return client.post("/chat/", json={"prompt": "hi"}, headers=headers)


@pytest.mark.parametrize("trusted", [[], ["10.0.0.0/8", "2001:db8::/32"]], ids=["no proxy", "another proxy"])
@pytest.mark.parametrize("form", sorted(FORGERIES))
def test_forged_forwarding_headers_from_an_untrusted_peer_do_not_escape_the_per_visitor_limit(
    shop: httpx.Client, smarter_settings: Any, form: str, trusted: list[str]
) -> None:
    smarter_settings.trusted_proxies = ",".join(trusted)
    smarter_settings.rate_limit_chatbot_ip_per_minute = LIMIT
    answers = [_chat(shop, FORGERIES[form](i)) for i in range(LIMIT + 1)]

    assert [answer.status_code for answer in answers[:LIMIT]] == [200] * LIMIT, answers[-2].text
    refused = answers[LIMIT]
    assert refused.status_code == 429
    body = refused.json()
    assert (body["errorClass"], body["status"]) == ("RateLimited", 429)
    assert body["description"].startswith(
        f"Too many requests to this chatbot from your address: at most {LIMIT} per minute."
    )
    assert 1 <= int(refused.headers["Retry-After"]) <= 60 // LIMIT
    assert body["context"]["retryAfter"] == int(refused.headers["Retry-After"])
    assert Turn.objects.count() == LIMIT  # the refused request reached no model and wrote nothing
    assert set(Chat.objects.values_list("client_ip", flat=True)) == {"127.0.0.1"}


@pytest.mark.parametrize("store", ["local", "redis"])
def test_rotating_x_forwarded_for_gets_no_more_than_the_limit_with_either_store(
    request: pytest.FixtureRequest, shop: httpx.Client, smarter_settings: Any, store: str
) -> None:
    _store(request, smarter_settings, store)
    smarter_settings.rate_limit_chatbot_ip_per_minute = LIMIT
    statuses = [_chat(shop, [("X-Forwarded-For", f"203.0.113.{i}")]).status_code for i in range(4 * LIMIT)]

    assert statuses == [200] * LIMIT + [429] * 3 * LIMIT


@pytest.mark.parametrize("store", ["local", "redis"])
def test_visitors_behind_a_trusted_proxy_are_limited_apart(
    request: pytest.FixtureRequest, shop: httpx.Client, smarter_settings: Any, store: str
) -> None:
    _store(request, smarter_settings, store)
    smarter_settings.trusted_proxies = "127.0.0.0/8"
    smarter_settings.rate_limit_chatbot_ip_per_minute = 3

    def visitor(address: str, i: int) -> Headers:
        # What the client sent is on the left; each trusted proxy appends the address it saw.
        return [("X-Forwarded-For", f"6.6.6.{i}, {address}, 127.0.0.9")]

    alice = [_chat(shop, visitor("198.51.100.7", i)).status_code for i in range(4)]
    shop.cookies.clear()  # another browser
    bob = [_chat(shop, visitor("2001:db8::8", i)).status_code for i in range(4)]

    assert alice == [200, 200, 200, 429]
    assert bob == [200, 200, 200, 429]
    assert sorted(set(Chat.objects.values_list("client_ip", flat=True))) == ["198.51.100.7", "2001:db8::8"]


def test_an_ipv6_visitor_rotating_addresses_in_its_network_is_limited_once(
    shop: httpx.Client, smarter_settings: Any
) -> None:
    smarter_settings.trusted_proxies = "127.0.0.1"
    smarter_settings.rate_limit_chatbot_ip_per_minute = 3

    def ask(address: str) -> int:
        shop.cookies.clear()
        return _chat(shop, [("X-Forwarded-For", address)]).status_code

    # One subscriber's /64 holds 2^64 addresses: the limit counts the network, not each address.
    assert [ask(f"2001:db8:0:7::{i:x}") for i in range(1, 5)] == [200, 200, 200, 429]
    assert ask("2001:db8:0:8::1") == 200  # the next network is another visitor


def test_a_trusted_proxy_without_x_forwarded_for_is_the_client(shop: httpx.Client, smarter_settings: Any) -> None:
    smarter_settings.trusted_proxies = "127.0.0.1"
    assert _chat(shop, [("X-Real-IP", "203.0.113.5")]).status_code == 200
    assert _chat(shop, [("X-Forwarded-For", "")]).status_code == 200
    assert set(Chat.objects.values_list("client_ip", flat=True)) == {"127.0.0.1"}


def test_a_trusted_proxy_that_forwards_garbage_is_stored_as_no_address(
    shop: httpx.Client, smarter_settings: Any
) -> None:
    smarter_settings.trusted_proxies = "127.0.0.1"
    answer = _chat(shop, [("X-Forwarded-For", "203.0.113.5, not-an-address")])
    assert answer.status_code == 200, answer.text
    assert list(Chat.objects.values_list("client_ip", flat=True)) == [None]


@pytest.mark.parametrize("trusted", [[], ["127.0.0.1"]], ids=["untrusted peer", "trusted proxy"])
def test_the_lean_openai_route_records_the_same_client_address(
    owner: Persona, asgi_server: Any, smarter_settings: Any, trusted: list[str]
) -> None:
    smarter_settings.trusted_proxies = ",".join(trusted)
    apply(owner, chatbot_manifest("support"))
    with httpx.Client(base_url=asgi_server.url, headers={"Authorization": f"Token {owner.key}"}) as client:
        answer = client.post(
            "/api/v1/openai/chat/completions",
            json={"model": "support", "messages": [{"role": "user", "content": "hi"}]},
            headers={"X-Forwarded-For": "203.0.113.77"},
        )
    assert answer.status_code == 200, answer.text
    assert list(Chat.objects.values_list("channel", "client_ip")) == [
        ("openai", "203.0.113.77" if trusted else "127.0.0.1")
    ]


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("203.0.113.7:4711", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("", None),
        (None, None),
        ("unknown", None),
        ("203.0.113.300", None),
        ("203.0.113.7:4711:1", None),
        ("a" * 100, None),
        ("1.2.3.4, 5.6.7.8", None),
    ],
)
def test_an_address_is_stored_in_one_canonical_form_or_not_at_all(raw: str | None, canonical: str | None) -> None:
    assert canonical_ip(raw) == canonical
