"""Django's middleware in their async versions, served by uvicorn as in production: an API request
crosses them without a thread hop, and the console still signs in, refuses a form without its
CSRF token, saves its session and shows the admin's messages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from asgiref import sync
from django.contrib.sessions.models import Session
from django.core.handlers.asgi import ASGIHandler
from django.test import override_settings

from conftest import AsgiServer
from smarter.apps.account.models import Account
from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.openai_route import OpenAIChatRoute
from smarter.apps.dashboard.tests.helpers import PASSWORD, with_password
from smarter.lib.http.middleware import STANDS_FOR

SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every thread-sensitive hop from the event loop (how Django runs a sync hook or view)."""
    made: list[str] = []
    original = sync.SyncToAsync.__init__

    def counting(self: Any, func: Any, thread_sensitive: bool = True, **kwargs: Any) -> None:
        if thread_sensitive:
            made.append(getattr(func, "__qualname__", repr(func)))
        original(self, func, thread_sensitive=thread_sensitive, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__init__", counting)
    return made


@pytest.fixture
def djangos_own_classes(transactional_db: Any) -> Iterator[AsgiServer]:
    """The same application with Django's own middleware classes, for comparison."""
    from django.conf import settings

    with override_settings(MIDDLEWARE=[STANDS_FOR.get(path, path) for path in settings.MIDDLEWARE]):
        # Behind the same lean route as `smarter.asgi` (it answers the lifespan protocol).
        server = AsgiServer(app=OpenAIChatRoute(ASGIHandler()))
    server.start()
    yield server
    server.stop()


def _refused_chat(server: AsgiServer) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return client.post("/api/v1/chatbots/support/chat/", json={"prompt": "Hi"})


def test_an_api_request_crosses_the_middleware_without_a_thread_hop(
    asgi_server: AsgiServer, djangos_own_classes: AsgiServer, hops: list[str]
) -> None:
    ours = _refused_chat(asgi_server)
    ours_hops = list(hops)
    hops.clear()
    djangos = _refused_chat(djangos_own_classes)
    assert ours.status_code == djangos.status_code == 401
    assert ours.json()["errorClass"] == djangos.json()["errorClass"] == "NotAuthenticated"
    assert not [hop for hop in ours_hops if "process_" in hop]
    # Django's own classes hop for each of their hooks: 12 for these seven.
    assert len([hop for hop in hops if "process_" in hop]) >= 12
    for name, value in SECURITY_HEADERS.items():
        assert ours.headers[name] == djangos.headers[name] == value


def _csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text[:300]
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_under_asgi_the_console_signs_in_only_with_its_csrf_token_and_saves_the_session(
    asgi_server: AsgiServer, owner: Persona
) -> None:
    with_password(owner)
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:
        token = _csrf(client, "/login/")
        form = {"username": owner.username, "password": PASSWORD}
        refused = client.post("/login/", data=form)
        assert refused.status_code == 403
        assert Session.objects.count() == 0
        signed_in = client.post("/login/", data={**form, "csrfmiddlewaretoken": token})
        assert signed_in.status_code == 302 and signed_in.headers["location"] == "/dashboard/"
        assert Session.objects.count() == 1
        for name, value in SECURITY_HEADERS.items():
            assert signed_in.headers[name] == value
        dashboard = client.get("/dashboard/")
        assert dashboard.status_code == 200 and owner.username in dashboard.text


def test_under_asgi_the_admins_message_survives_its_redirect(asgi_server: AsgiServer, owner: Persona) -> None:
    owner.user.is_staff = owner.user.is_superuser = True  # type: ignore[attr-defined]
    owner.user.save()
    with_password(owner)
    account = owner.account
    change = f"/admin/account/account/{account.pk}/change/"
    with httpx.Client(base_url=asgi_server.url, timeout=30) as client:
        token = _csrf(client, "/admin/login/")
        client.post(
            "/admin/login/",
            data={"username": owner.username, "password": PASSWORD, "csrfmiddlewaretoken": token, "next": change},
        )
        token = _csrf(client, change)
        form = {
            "csrfmiddlewaretoken": token,
            "name": account.name,
            "company_name": "Acme Renamed",
            "language": account.language,
            "timezone": account.timezone,
            "currency": account.currency,
            "is_active": "on",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        }
        saved = client.post(change, data=form)
        assert saved.status_code == 302, saved.text[:500]
        shown = client.get(saved.headers["location"])
    assert shown.status_code == 200
    assert "was changed successfully" in shown.text
    assert Account.objects.get(pk=account.pk).company_name == "Acme Renamed"
