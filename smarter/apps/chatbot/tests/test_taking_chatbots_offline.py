"""Deactivating an account, undeploying a chatbot or deleting either takes effect at once on every
process: the very next request to the chatbot's host answers 404, with the local-memory cache and
with Redis, whether the route was cached by this process or another one, and even where a
process's own cache still holds the old route. Real HTTP through uvicorn on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.cache import cache

from smarter.apps.account import services as account_services
from smarter.apps.account.models import Account, Role
from smarter.apps.account.tests.billing_support import mariadb_url_or_skip
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chatbot import services
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.chatbot.tests.helpers import apply, chatbot_manifest
from smarter.apps.chatbot.tests.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def _redis_cache(url: str) -> dict[str, Any]:
    """The production cache settings (smarter/settings.py) on the test's Redis."""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "smarter",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


@pytest.fixture(params=["local memory", "redis"])
def cache_backend(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    if request.param == "redis":
        settings.CACHES = _redis_cache(request.getfixturevalue("redis_url"))
    cache.clear()
    yield request.param
    cache.clear()


@pytest.fixture
def owner(smarter_settings: Any) -> Persona:
    smarter_settings.root_domain = "example.com"
    smarter_settings.llm_provider = "offline"
    persona = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    apply(persona, chatbot_manifest("shop", deployed=True))
    return persona


def _host(owner: Persona) -> str:
    return f"shop.{owner.account.account_number}.api.example.com"


def _deactivate(owner: Persona) -> None:
    account = Account.objects.get(pk=owner.account.pk)
    account_services.account_set_identity(account=account, name=account.name, is_active=False)


def _undeploy(owner: Persona) -> None:
    services.chatbot_undeploy(chatbot=Chatbot.objects.get(account=owner.account, name="shop"))


def _delete_chatbot(owner: Persona) -> None:
    services.chatbot_delete(chatbot=Chatbot.objects.get(account=owner.account, name="shop"))


def _delete_account(owner: Persona) -> None:
    account_services.account_delete(account=Account.objects.get(pk=owner.account.pk))


# action -> (what it does, how the host answers then: a chatbot's host that names no chatbot any
# more is a host the platform does not serve)
ACTIONS: dict[str, tuple[Callable[[Persona], None], int, str]] = {
    "deactivate the account": (_deactivate, 404, "This chatbot is not deployed."),
    "undeploy the chatbot": (_undeploy, 404, "This chatbot is not deployed."),
    "delete the chatbot": (_delete_chatbot, 400, "This host is not served here."),
    "delete the account": (_delete_account, 400, "This host is not served here."),
}

# The same changes written behind the services' back, as another process's cache would miss them.
BEHIND_THE_CACHE: dict[str, Callable[[Persona], None]] = {
    "deactivate the account": lambda owner: Account.objects.filter(pk=owner.account.pk).update(is_active=False),
    "undeploy the chatbot": lambda owner: Chatbot.objects.filter(account=owner.account).update(deployed=False),
}


def _every_path(client: httpx.Client) -> list[int]:
    return [
        client.get("/").status_code,
        client.get("/config/").status_code,
        client.post("/chat/", json={"prompt": "hi"}).status_code,
        client.get("/widget.js").status_code,
    ]


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_the_next_request_after_taking_a_chatbot_offline_answers_404(
    asgi_server: Any, owner: Persona, cache_backend: str, action: str
) -> None:
    with httpx.Client(base_url=asgi_server.url, headers={"Host": _host(owner)}, timeout=30) as client:
        assert _every_path(client) == [200, 200, 200, 200]  # the route is cached now
        take_offline, status, text = ACTIONS[action]

        take_offline(owner)

        assert _every_path(client) == [status] * 4
        assert client.get("/").json()["description"] == text


@pytest.mark.parametrize("action", sorted(BEHIND_THE_CACHE))
def test_a_stale_cached_route_still_serves_nothing(
    asgi_server: Any, owner: Persona, cache_backend: str, action: str
) -> None:
    with httpx.Client(base_url=asgi_server.url, headers={"Host": _host(owner)}, timeout=30) as client:
        assert _every_path(client) == [200, 200, 200, 200]

        BEHIND_THE_CACHE[action](owner)  # the cached route still says "chatbot"

        assert _every_path(client) == [404, 404, 404, 404]
        config = client.get("/config/")
    assert config.json()["errorClass"] == "NotFound"


def test_reactivating_the_account_serves_the_chatbot_again_at_once(
    asgi_server: Any, owner: Persona, cache_backend: str
) -> None:
    with httpx.Client(base_url=asgi_server.url, headers={"Host": _host(owner)}, timeout=30) as client:
        assert client.get("/").status_code == 200
        _deactivate(owner)
        assert client.get("/").status_code == 404  # the 404 is cached now
        account = Account.objects.get(pk=owner.account.pk)
        account_services.account_set_identity(account=account, name=account.name, is_active=True)
        assert client.get("/").status_code == 200


# --- another process serving the same hosts ---------------------------------------------------------
class OtherProcess:
    """The platform served by a uvicorn subprocess on the test database, with its own cache."""

    def __init__(self, *, database_url: str, redis_url: str | None, state_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {key: value for key, value in os.environ.items() if not key.startswith("SMARTER_")}
        environment.update(
            SMARTER_DATABASE_URL=database_url,
            SMARTER_ROOT_DOMAIN="example.com",
            SMARTER_LLM_PROVIDER="offline",
            SMARTER_STATE_DIR=str(state_dir),
            SMARTER_LOG_LEVEL="WARNING",
            SMARTER_LOG_FORMAT="text",
            DJANGO_SETTINGS_MODULE="smarter.settings",
        )
        if redis_url:
            environment["SMARTER_REDIS_URL"] = redis_url
        uvicorn = str(Path(sys.executable).with_name("uvicorn"))
        command = [uvicorn, "smarter.asgi:application", "--port", str(self.port), "--no-proxy-headers"]
        self.process = subprocess.Popen(
            command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"the other process did not start:\n{output[-3000:]}")
            time.sleep(0.2)

    def get(self, host: str, path: str = "/") -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"Host": host}, timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.mark.parametrize("shared_cache", [True, False], ids=["redis shared by both", "each its own memory"])
def test_another_process_stops_serving_a_deactivated_accounts_chatbot_at_once(
    request: pytest.FixtureRequest, owner: Persona, settings: Any, tmp_path: Path, shared_cache: bool
) -> None:
    database_url = mariadb_url_or_skip()
    redis_url = None
    if shared_cache:
        redis_url = request.getfixturevalue("redis_url")
        settings.CACHES = _redis_cache(redis_url)
        cache.clear()
    other = OtherProcess(database_url=database_url, redis_url=redis_url, state_dir=tmp_path)
    try:
        assert other.get(_host(owner)).status_code == 200  # the other process caches the route
        _deactivate(owner)  # this process: the service, and whatever cache it can reach
        page = other.get(_host(owner))
        config = other.get(_host(owner), "/config/")
    finally:
        other.stop()
        cache.clear()

    assert (page.status_code, config.status_code) == (404, 404)
    # The shared route was forgotten, or the other process's own stale route was refused by the
    # database check: either way the same answer.
    assert page.json()["description"] == "This chatbot is not deployed."
