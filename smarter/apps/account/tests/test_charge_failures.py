"""Every charge exactly once through failures, with a real Celery worker process on Redis and the
test's MariaDB database: a worker SIGKILLed mid-work, and Redis stopped during chat turns."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.db import transaction
from django.db.models import Count

from smarter.apps.account.billing import services
from smarter.apps.account.billing.models import Charge, ChargeKind, UsageEvent
from smarter.apps.account.models import Role
from smarter.apps.account.tasks import record_charge_task
from smarter.apps.account.tests.billing_support import (
    WORKER_BROKER_URL,
    RedisServer,
    Worker,
    celery_mode,
    make_chatbot,
    mariadb_url_or_skip,
    record_usage_event,
    wait_until,
)
from smarter.apps.account.tests.factories import make_account, make_persona
from smarter.apps.chat.models import Turn
from smarter.testing.fixtures import flushed_redis_or_skip

pytestmark = pytest.mark.services

EVENTS = 300
TOOLS_PER_EVENT = 2


def _charges_per_key_are_unique() -> bool:
    return not Charge.objects.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1).exists()


def test_a_worker_killed_while_recording_charges_loses_none_and_duplicates_none(transactional_db: Any) -> None:
    database_url = mariadb_url_or_skip()
    flushed_redis_or_skip(WORKER_BROKER_URL)
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    with celery_mode(eager=False, broker_url=WORKER_BROKER_URL):
        for turn_id in range(1, EVENTS + 1):
            with transaction.atomic():
                record_usage_event(owner, turn_id, tools=TOOLS_PER_EVENT)
        expected = EVENTS * (1 + TOOLS_PER_EVENT)

        # One process: a task writes a whole batch of events in one transaction, and four would
        # drain the queue before the test could look, let alone kill them mid-work.
        first = Worker(database_url=database_url, broker_url=WORKER_BROKER_URL, concurrency=1).start()
        try:
            assert wait_until(lambda: Charge.objects.count() >= expected // 4, timeout=90)
            first.kill()
        finally:
            first.kill()
        at_kill = Charge.objects.count()
        assert at_kill < expected, "the worker finished before it could be killed"
        held_by_the_dead = _unacked(WORKER_BROKER_URL)  # redelivered only after the visibility timeout

        second = Worker(database_url=database_url, broker_url=WORKER_BROKER_URL).start()
        try:
            # The messages the dead worker held stay unacknowledged in Redis until the broker's
            # visibility timeout; the sweep republishes their still-pending outbox rows now.
            services.pending_usage_events_requeue(older_than=timedelta(0))
            assert wait_until(
                lambda: not UsageEvent.objects.filter(status=UsageEvent.Status.PENDING).exists(), timeout=120
            )
            # Every task delivered once more: nothing is written twice.
            for event_id in UsageEvent.objects.values_list("pk", flat=True):
                record_charge_task.delay(event_id)
            assert wait_until(
                lambda: _queued(WORKER_BROKER_URL) == 0 and _unacked(WORKER_BROKER_URL) <= held_by_the_dead,
                timeout=120,
            )
        finally:
            second.stop()

    assert Charge.objects.count() == expected
    assert Charge.objects.filter(kind=ChargeKind.COMPLETION).count() == EVENTS
    assert _charges_per_key_are_unique()
    assert sum(Charge.objects.values_list("completion_tokens", flat=True)) == sum(range(1, EVENTS + 1))


def _queued(url: str) -> int:
    import redis

    return int(redis.Redis.from_url(url).llen("smarter"))  # type: ignore[arg-type]


def _unacked(url: str) -> int:
    import redis

    return int(redis.Redis.from_url(url).hlen("unacked"))  # type: ignore[arg-type]


def test_chats_answer_while_redis_is_down_and_their_charges_are_recorded_once_it_is_back(
    smarter_settings: Any, asgi_server: Any
) -> None:
    database_url = mariadb_url_or_skip()
    own_redis = RedisServer().start()
    smarter_settings.llm_provider = "offline"
    smarter_settings.redis_url = own_redis.url  # the limiter's store goes down too
    smarter_settings.rate_limit_api_key_per_minute = 1000
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    worker: Worker | None = None
    try:
        with (
            celery_mode(eager=False, broker_url=own_redis.url),
            httpx.Client(
                base_url=asgi_server.url, headers={"Authorization": f"Token {owner.key}"}, timeout=30
            ) as client,
        ):
            make_chatbot(client, defaultModel="smarter-offline")

            def chat(count: int) -> list[int]:
                return [
                    client.post("/api/v1/chatbots/support/chat/", json={"prompt": f"hello {n}"}).status_code
                    for n in range(count)
                ]

            assert chat(5) == [200] * 5  # published; no worker yet
            own_redis.stop()
            assert chat(10) == [200] * 10  # Redis down: the chats still answer
            assert UsageEvent.objects.filter(status=UsageEvent.Status.PENDING).count() == 15
            assert Charge.objects.count() == 0

            own_redis.start()  # an empty Redis: the first five messages were lost with it
            worker = Worker(database_url=database_url, broker_url=own_redis.url).start()
            assert services.pending_usage_events_requeue(older_than=timedelta(0)) == 15
            assert wait_until(
                lambda: not UsageEvent.objects.filter(status=UsageEvent.Status.PENDING).exists(), timeout=120
            )
    finally:
        if worker is not None:
            worker.stop()
        own_redis.stop()

    assert Turn.objects.count() == 15
    assert Charge.objects.filter(kind=ChargeKind.COMPLETION).count() == 15
    assert _charges_per_key_are_unique()
    charged_turns = {turn_id for turn_id in Charge.objects.values_list("turn_id", flat=True)}
    assert charged_turns == set(Turn.objects.values_list("pk", flat=True))
