"""Host routing: every request is answered by the site its Host names, on a real ASGI server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import make_account, make_persona
from smarter.apps.chatbot.models import ChatbotDomain, DomainStatus
from smarter.apps.chatbot.routing import Route, normalize_host, route_for_host
from smarter.apps.chatbot.tests.helpers import apply, chatbot_manifest, deploy


@pytest.fixture
def hosts_world(asgi_server: Any, smarter_settings: Any) -> dict[str, Any]:
    smarter_settings.root_domain = "example.com"
    smarter_settings.platform_host = "platform.example.com"
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    outsider = make_persona(make_account("Globex"), "outsider", Role.ADMIN)
    apply(owner, chatbot_manifest("support", appName="Acme Support", deployed=True, customDomain="chat.acme.test"))
    apply(owner, chatbot_manifest("draft", appName="Acme Draft"))
    apply(owner, chatbot_manifest("pending", appName="Acme Pending", deployed=True, customDomain="chat.pending.test"))
    apply(outsider, chatbot_manifest("globexbot", appName="Globex Bot", deployed=True))
    ChatbotDomain.objects.filter(domain="chat.acme.test").update(
        status=DomainStatus.VERIFIED, verified_domain="chat.acme.test"
    )
    return {"owner": owner, "outsider": outsider, "server": asgi_server}


def get(server: Any, host: str, path: str = "/") -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers={"Host": host}, timeout=10)


def test_every_host_gets_the_answer_of_the_site_it_names(hosts_world: dict[str, Any]) -> None:
    server = hosts_world["server"]
    acme = hosts_world["owner"].account.account_number
    globex = hosts_world["outsider"].account.account_number
    expected = {
        # host: (status, text the answer must contain)
        "platform.example.com": (200, '"status"'),
        f"support.{acme}.api.example.com": (200, "<title>Acme Support</title>"),
        "chat.acme.test": (200, "<title>Acme Support</title>"),
        "chat.pending.test": (404, "This domain is not verified yet"),
        f"draft.{acme}.api.example.com": (404, "This chatbot is not deployed."),
        f"globexbot.{acme}.api.example.com": (400, "This host is not served here."),
        f"globexbot.{globex}.api.example.com": (200, "<title>Globex Bot</title>"),
        "evil.example.org": (400, "This host is not served here."),
        f"support.{acme}.api.example.com:8000": (200, "<title>Acme Support</title>"),
        f"SUPPORT.{acme}.API.Example.COM": (200, "<title>Acme Support</title>"),
        f"support.{acme}.api.example.com.": (200, "<title>Acme Support</title>"),
        f"support.{acme}.api.example.com.:8000": (200, "<title>Acme Support</title>"),
        "bad_host!": (400, "This host is not served here."),
        f"nobody.{acme}.api.example.com": (400, "This host is not served here."),
        "support.1234-5678.api.example.com": (400, "This host is not served here."),
    }
    answers = {}
    for host in expected:
        response = get(server, host, "/healthz" if host.startswith("platform") else "/")
        answers[host] = (
            response.status_code,
            expected[host][1] if expected[host][1] in response.text else response.text,
        )
    assert answers == expected


def test_a_chatbot_host_serves_only_the_public_surface(hosts_world: dict[str, Any]) -> None:
    server = hosts_world["server"]
    acme = hosts_world["owner"].account.account_number
    host = f"support.{acme}.api.example.com"
    assert get(server, host, "/healthz").status_code == 404
    assert get(server, host, "/api/v1/cli/whoami/").status_code == 404
    assert get(server, host, "/admin/").status_code == 404
    assert get(server, "platform.example.com", "/widget.js").status_code == 404


def test_deploy_undeploy_and_rename_change_the_answer_at_once(hosts_world: dict[str, Any]) -> None:
    server, owner = hosts_world["server"], hosts_world["owner"]
    acme = owner.account.account_number
    draft = f"draft.{acme}.api.example.com"
    assert get(server, draft).status_code == 404  # now cached as undeployed
    assert deploy(owner, "draft").status_code == 200
    assert get(server, draft).status_code == 200
    assert deploy(owner, "draft", "undeploy").status_code == 200
    assert get(server, draft).status_code == 404
    # A new subdomain: the old host is unknown at once, the new one answers.
    apply(
        owner,
        chatbot_manifest(
            "support", appName="Acme Support", deployed=True, subdomain="help", customDomain="chat.acme.test"
        ),
    )
    assert get(server, f"support.{acme}.api.example.com").status_code == 400
    assert get(server, f"help.{acme}.api.example.com").status_code == 200
    # Dropping the custom domain stops its routing.
    assert get(server, "chat.acme.test").status_code == 200
    apply(owner, chatbot_manifest("support", appName="Acme Support", deployed=True, subdomain="help"))
    assert get(server, "chat.acme.test").status_code == 400


def test_a_cached_route_costs_no_query_whatever_the_number_of_chatbots(
    hosts_world: dict[str, Any], django_assert_num_queries: Any
) -> None:
    acme = hosts_world["owner"].account.account_number
    host = normalize_host(f"Support.{acme}.api.example.com.:443")
    assert host == f"support.{acme}.api.example.com"
    with django_assert_num_queries(1):
        first = route_for_host(host)
    with django_assert_num_queries(0):
        again = route_for_host(host)
    assert first == again and first.kind == "chatbot" and first.chatbot_id is not None
    with django_assert_num_queries(0):
        assert route_for_host("platform.example.com") == Route("platform")
