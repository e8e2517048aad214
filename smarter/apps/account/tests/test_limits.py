"""Limits before the provider is called: the atomic request-rate limiter (Redis Lua, or the
process-local one), the monthly token budget reserved and settled, the Redis-down policy, and
feature switches."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from django.db.models import Sum

from smarter.apps.account.billing import limits
from smarter.apps.account.billing.models import AccountLimits, BudgetAlert
from smarter.apps.account.features.services import feature_switch_set
from smarter.apps.account.models import Role
from smarter.apps.account.tests.billing_support import celery_mode, make_chatbot
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import Turn
from smarter.lib.errors import QuotaExceeded, RateLimited
from smarter.testing.openai_stub import OpenAIStub, text_reply

DEAD_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def limits_redis(smarter_settings: Any, redis_url: str) -> str:
    """This test process's Redis database, emptied, as the limiter's store."""
    smarter_settings.redis_url = redis_url
    return redis_url


@pytest.fixture
def no_redis(smarter_settings: Any) -> None:
    smarter_settings.redis_url = None


@pytest.fixture
def offline(smarter_settings: Any) -> None:
    smarter_settings.llm_provider = "offline"


def _client(persona: Persona, server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Token {persona.key}"}, timeout=60)


def _parallel(server: Any, persona: Persona, count: int, path: str, body: dict[str, Any]) -> list[httpx.Response]:
    barrier = threading.Barrier(count)

    def one(_: int) -> httpx.Response:
        with _client(persona, server) as client:
            barrier.wait()
            return client.post(path, json=body)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


# --- request rate -----------------------------------------------------------------------------------
@pytest.mark.parametrize("store", ["redis", "local"])
def test_twenty_parallel_chats_against_a_limit_of_nineteen_let_exactly_nineteen_through(
    request: pytest.FixtureRequest, smarter_settings: Any, offline: None, asgi_server: Any, store: str
) -> None:
    request.getfixturevalue("limits_redis" if store == "redis" else "no_redis")
    smarter_settings.rate_limit_api_key_per_minute = 19
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    with celery_mode(eager=True), _client(owner, asgi_server) as client:
        smarter_settings.rate_limit_api_key_per_minute = 0  # creating the chatbot is not a chat
        make_chatbot(client)
        smarter_settings.rate_limit_api_key_per_minute = 19
        responses = _parallel(asgi_server, owner, 20, "/api/v1/chatbots/support/chat/", {"prompt": "hi"})

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 19 + [429]
    refused = next(response for response in responses if response.status_code == 429)
    assert refused.json()["errorClass"] == "RateLimited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 4
    assert Turn.objects.count() == 19  # the refused request reached no model and wrote nothing


def test_the_lua_limiter_is_atomic_under_contention(limits_redis: str) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        waits = list(pool.map(lambda _: limits.rate_check(key="contended", per_minute=50), range(200)))
    refills = int((time.monotonic() - started) / 1.2)  # one request comes back every 1.2 s

    assert 50 <= sum(1 for wait in waits if wait == 0) <= 50 + refills


def test_the_limit_refills_at_its_rate(limits_redis: str) -> None:
    for _ in range(3):
        assert limits.rate_check(key="refill", per_minute=3) == 0
    wait = limits.rate_check(key="refill", per_minute=3)

    assert 19 < wait <= 20  # one request comes back every 20 seconds


def test_when_redis_is_down_the_limiter_fails_open_to_the_local_limit(
    smarter_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    smarter_settings.redis_url = DEAD_REDIS_URL
    with caplog.at_level(logging.WARNING):
        waits = [limits.rate_check(key="down", per_minute=5) for _ in range(6)]

    assert [wait == 0 for wait in waits] == [True] * 5 + [False]
    assert "process-local limits" in caplog.text


def test_a_deployed_chatbot_is_limited_per_client_address(
    no_redis: None, owner: Persona, smarter_settings: Any
) -> None:
    smarter_settings.rate_limit_chatbot_ip_per_minute = 2

    def admit(ip: str) -> None:
        limits.turn_admit(
            account=owner.account,
            api_key=None,
            chatbot_id=3,
            chatbot_name="support",
            channel="public",
            client_ip=ip,
            estimate=10,
        )

    admit("10.0.0.1")
    admit("10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        admit("10.0.0.1")
    admit("10.0.0.2")  # another visitor has their own allowance

    assert "Retry-After" in refused.value.headers


def test_an_account_override_replaces_the_platform_default(
    no_redis: None, owner: Persona, smarter_settings: Any
) -> None:
    smarter_settings.rate_limit_api_key_per_minute = 100
    AccountLimits.objects.create(account=owner.account, api_key_requests_per_minute=2)

    def admit() -> None:
        limits.turn_admit(
            account=owner.account,
            api_key=owner.api_key,
            chatbot_id=3,
            chatbot_name="support",
            channel="api",
            client_ip=None,
            estimate=10,
        )

    admit()
    admit()
    with pytest.raises(RateLimited, match="at most 2 per minute"):
        admit()


def test_the_openai_rest_and_cli_doors_answer_429_with_retry_after(
    no_redis: None, offline: None, smarter_settings: Any, asgi_server: Any
) -> None:
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    smarter_settings.rate_limit_api_key_per_minute = 0
    with celery_mode(eager=True), _client(owner, asgi_server) as client:
        make_chatbot(client)
        smarter_settings.rate_limit_api_key_per_minute = 1
        body = {"model": "support", "messages": [{"role": "user", "content": "hi"}]}
        first = client.post("/api/v1/openai/chat/completions", json=body)
        second = client.post("/api/v1/openai/chat/completions", json={**body, "stream": True})
        third = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "hi", "stream": True})
        fourth = client.post("/api/v1/cli/chat/support/", json={"prompt": "hi"})

    assert first.status_code == 200, first.text
    for refused in (second, third, fourth):
        assert refused.status_code == 429
        assert refused.json()["errorClass"] == "RateLimited"
        assert int(refused.headers["Retry-After"]) >= 1
    assert second.json()["error"]["code"] == "RateLimited"


# --- monthly token budget ---------------------------------------------------------------------------
@pytest.mark.parametrize("store", ["redis", "local"])
def test_budget_reservations_are_atomic(request: pytest.FixtureRequest, transactional_db: Any, store: str) -> None:
    # Committed rows: the threads use connections of their own.
    request.getfixturevalue("limits_redis" if store == "redis" else "no_redis")
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    account_limits = AccountLimits.objects.create(account=owner.account, monthly_token_budget=1000)

    def reserve(_: int) -> limits.Reservation | None:
        try:
            return limits.budget_reserve(account=owner.account, chatbot_name="x", estimate=100, limits=account_limits)
        except QuotaExceeded:
            return None

    with ThreadPoolExecutor(max_workers=16) as pool:
        held = [r for r in pool.map(reserve, range(40)) if r is not None]
    assert len(held) == 10

    # Settled to what they really used (50 each): half the budget is free again.
    for reservation in held:
        limits.budget_settle(reservation=reservation, actual_tokens=50)
    again = [reserve(0) for _ in range(6)]
    assert sum(1 for r in again if r is not None) == 5


def test_a_chatbot_budget_applies_to_that_chatbot_only(no_redis: None, owner: Persona) -> None:
    account_limits = AccountLimits.objects.create(account=owner.account, chatbot_monthly_token_budgets={"support": 150})
    limits.budget_reserve(account=owner.account, chatbot_name="support", estimate=100, limits=account_limits)
    with pytest.raises(QuotaExceeded, match="chatbot 'support' is 150 tokens"):
        limits.budget_reserve(account=owner.account, chatbot_name="support", estimate=100, limits=account_limits)
    assert (
        limits.budget_reserve(account=owner.account, chatbot_name="sales", estimate=100, limits=account_limits) is None
    )


@pytest.mark.parametrize("store", ["redis", "local"])
def test_concurrent_turns_at_the_edge_of_the_budget_overspend_by_at_most_one_turn_each(
    request: pytest.FixtureRequest, smarter_settings: Any, asgi_server: Any, store: str
) -> None:
    request.getfixturevalue("limits_redis" if store == "redis" else "no_redis")
    budget, concurrency, per_turn = 2000, 8, 150
    smarter_settings.rate_limit_api_key_per_minute = 0
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    AccountLimits.objects.create(account=owner.account, monthly_token_budget=budget, budget_warning_percent=50)
    with OpenAIStub() as stub, celery_mode(eager=True), _client(owner, asgi_server) as client:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        make_chatbot(client, defaultMaxTokens=50)
        for _ in range(5 * concurrency):
            stub.enqueue(text_reply("ok", prompt_tokens=100, completion_tokens=50, delay=0.2))
        responses: list[httpx.Response] = []
        for _ in range(5):
            responses += _parallel(asgi_server, owner, concurrency, "/api/v1/chatbots/support/chat/", {"prompt": "hi"})

    used = Turn.objects.aggregate(total=Sum("total_tokens"))["total"]
    refused = [response for response in responses if response.status_code == 429]
    assert {response.status_code for response in responses} == {200, 429}
    assert used == per_turn * sum(1 for response in responses if response.status_code == 200)
    assert used <= budget + concurrency * per_turn
    assert all(response.json()["errorClass"] == "QuotaExceeded" for response in refused)
    assert f"is {budget} tokens" in refused[0].json()["description"]
    assert int(refused[0].headers["Retry-After"]) > 0
    levels = set(BudgetAlert.objects.filter(account=owner.account).values_list("level", flat=True))
    assert levels == {"warning", "exceeded"}


def test_when_redis_is_down_the_budget_is_still_enforced_from_the_database(
    smarter_settings: Any, owner: Persona
) -> None:
    from django.utils import timezone

    from smarter.apps.account.billing import services

    smarter_settings.redis_url = DEAD_REDIS_URL
    account_limits = AccountLimits.objects.create(account=owner.account, monthly_token_budget=1000)
    services.usage_event_record(
        account=owner.account,
        turn_id=1,
        created_at=timezone.now(),
        user=None,
        api_key=None,
        chatbot_id=1,
        chatbot_name="support",
        session_key="s",
        channel="api",
        provider="offline",
        model="smarter-offline",
        prompt_tokens=800,
        completion_tokens=100,
        tools=[],
    )

    with pytest.raises(QuotaExceeded, match="900 are used"):
        limits.budget_reserve(account=owner.account, chatbot_name="support", estimate=200, limits=account_limits)
    assert limits.budget_reserve(account=owner.account, chatbot_name="support", estimate=100, limits=account_limits)


# --- feature switches ------------------------------------------------------------------------------
def test_the_openai_endpoint_can_be_switched_off_for_one_account(
    no_redis: None, offline: None, asgi_server: Any
) -> None:
    acme = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    globex = make_persona(make_account("Globex"), "other", Role.ADMIN)
    feature_switch_set(feature="openai_compatible_endpoint", account=acme.account, active=False)

    with _client(acme, asgi_server) as client:
        refused = client.get("/api/v1/openai/models")
    with _client(globex, asgi_server) as client:
        allowed = client.get("/api/v1/openai/models")

    assert refused.status_code == 403
    assert refused.json()["errorClass"] == "PermissionDenied"
    assert allowed.status_code == 200
