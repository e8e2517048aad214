"""The hand-off of committed usage events to a real broker (Redis): every committed event is in
exactly one published task, a rolled-back one in none, and the chat never waited for it."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
import redis
from django.db import transaction

from smarter.apps.account.billing import services
from smarter.apps.account.billing.models import UsageEvent
from smarter.apps.account.models import Role
from smarter.apps.account.tests.billing_support import celery_mode, record_usage_event
from smarter.apps.account.tests.factories import make_account, make_persona
from smarter.testing.fixtures import flushed_redis_or_skip, worker_redis_url

pytestmark = pytest.mark.services

BROKER_URL = worker_redis_url()  # no worker consumes it: the test reads what was published


def _published() -> list[tuple[str, list[int]]]:
    """(task name, event ids) of every message waiting in the queue, oldest first."""
    found = []
    for raw in reversed(redis.Redis.from_url(BROKER_URL).lrange("smarter", 0, -1)):  # type: ignore[union-attr]
        message: dict[str, Any] = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], args[0]))
    return found


def test_every_committed_event_is_published_exactly_once_and_a_rolled_back_one_never(
    transactional_db: None,
) -> None:
    flushed_redis_or_skip(BROKER_URL)
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    with celery_mode(eager=False, broker_url=BROKER_URL):
        committed = []
        for turn_id in range(1, 41):
            with transaction.atomic():
                committed.append(record_usage_event(owner, turn_id, prompt_tokens=10).pk)
        with contextlib.suppress(RuntimeError), transaction.atomic():
            record_usage_event(owner, 99)
            raise RuntimeError("the turn failed after its event was written")
        assert services.usage_events_published(timeout=10)
    published = _published()
    assert {task for task, _ids in published} == {"smarter.apps.account.tasks.record_charges_task"}
    assert sorted(event_id for _task, ids in published for event_id in ids) == committed
    # Nothing was recorded yet (no worker): the rows stay pending until a worker takes the tasks.
    assert set(UsageEvent.objects.values_list("status", flat=True)) == {UsageEvent.Status.PENDING}
