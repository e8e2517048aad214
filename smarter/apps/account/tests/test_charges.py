"""Charges: one completion charge per turn and one per tool call, written exactly once from the
outbox, priced from the database price table, and reported by the usage API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from smarter.apps.account.billing import services
from smarter.apps.account.billing.models import Charge, ChargeKind, Price, UsageEvent
from smarter.apps.account.billing.selectors import usage_report, usage_report_from_rollups
from smarter.apps.account.models import Role
from smarter.apps.account.pricing import forget_prices, seed_default_prices
from smarter.apps.account.tasks import record_charge_task, record_charges_task
from smarter.apps.account.tests.billing_support import STATIC_PLUGIN, apply, celery_mode, make_chatbot
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import ToolCall, Turn
from smarter.testing.openai_stub import OpenAIStub, text_reply, tool_calls_reply

TURNS = 200


@pytest.fixture
def upstream(smarter_settings: Any) -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        smarter_settings.rate_limit_api_key_per_minute = 0
        smarter_settings.redis_url = None
        yield stub


def _event(
    persona: Persona, turn_id: int, *, tokens: tuple[int, int] = (100, 20), tools: int = 0, **fields: Any
) -> Any:
    values: dict[str, Any] = {
        "account": persona.account,
        "turn_id": turn_id,
        "created_at": timezone.now(),
        "user": persona.user,
        "api_key": persona.api_key,
        "chatbot_id": 7,
        "chatbot_name": "support",
        "session_key": "s1",
        "channel": "api",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "prompt_tokens": tokens[0],
        "completion_tokens": tokens[1],
        "tools": [services.ToolUse(name=f"t{i}", is_plugin=i % 2 == 0) for i in range(tools)],
    }
    values.update(fields)
    return UsageEvent.objects.get(pk=services.usage_event_record(**values))


def test_two_hundred_turns_write_one_completion_charge_each_and_one_per_tool_call(
    upstream: OpenAIStub, asgi_server: Any
) -> None:
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    with (
        celery_mode(eager=True),
        httpx.Client(base_url=asgi_server.url, headers={"Authorization": f"Token {owner.key}"}, timeout=30) as client,
    ):
        apply(client, STATIC_PLUGIN)
        make_chatbot(client, plugins=["catalogue"])
        expected_tools = 0
        for number in range(TURNS):
            if number % 10 == 0:
                upstream.enqueue(
                    tool_calls_reply(("catalogue", {"inquiry_type": "price"})), text_reply("It is $12.50.")
                )
                expected_tools += 1
            else:
                upstream.enqueue(text_reply(f"Answer {number}."))
            response = client.post("/api/v1/chatbots/support/chat/", json={"prompt": f"Question {number}?"})
            assert response.status_code == 200, response.text
        usage = client.get("/api/v1/usage/", params={"group_by": "model"}).json()["data"]

    assert Turn.objects.count() == TURNS
    assert ToolCall.objects.count() == expected_tools
    assert Charge.objects.filter(kind=ChargeKind.COMPLETION).count() == TURNS
    assert Charge.objects.exclude(kind=ChargeKind.COMPLETION).count() == expected_tools
    assert not UsageEvent.objects.filter(status=UsageEvent.Status.PENDING).exists()
    turns = Turn.objects.aggregate(p=Sum("prompt_tokens"), c=Sum("completion_tokens"), t=Sum("total_tokens"))
    charges = Charge.objects.aggregate(p=Sum("prompt_tokens"), c=Sum("completion_tokens"), t=Sum("total_tokens"))
    assert charges == turns
    expected_cost = (Decimal("0.15") * turns["p"] + Decimal("0.60") * turns["c"]) / 1_000_000
    assert abs(Charge.objects.aggregate(c=Sum("cost"))["c"] - expected_cost) < Decimal("0.000001")
    assert usage["totals"]["requests"] == TURNS
    assert usage["totals"]["prompt_tokens"] == turns["p"]
    assert usage["totals"]["completion_tokens"] == turns["c"]
    assert usage["totals"]["total_tokens"] == turns["t"]
    assert [row["key"] for row in usage["rows"]] == ["gpt-4o-mini"]

    # The rollups say the same as the raw charges.
    services.usage_rollup(since=timezone.now() - timedelta(hours=1))
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = today + timedelta(days=1)
    for group_by in ("day", "chatbot", "model", "api_key", "channel"):
        raw = usage_report(account=owner.account, start=today, end=tomorrow, group_by=group_by)
        rolled = usage_report_from_rollups(account=owner.account, start=today, end=tomorrow, group_by=group_by)
        assert rolled == raw


def test_the_same_task_delivered_twice_writes_one_charge(owner: Persona) -> None:
    event = _event(owner, turn_id=41, tools=2)

    assert record_charge_task.apply(args=(event.pk,)).get() == 3
    assert record_charge_task.apply(args=(event.pk,)).get() == 0
    assert services.charges_record(usage_event_id=event.pk) == 0

    keys = sorted(Charge.objects.values_list("idempotency_key", flat=True))
    assert keys == ["turn-41:completion", "turn-41:tool-1", "turn-41:tool-2"]
    assert [c.kind for c in Charge.objects.order_by("idempotency_key")] == ["completion", "plugin", "tool"]
    event.refresh_from_db()
    assert event.status == UsageEvent.Status.DONE


def test_a_charge_already_written_is_not_written_again_even_if_the_event_says_pending(owner: Persona) -> None:
    event = _event(owner, turn_id=42)
    services.charges_record(usage_event_id=event.pk)
    UsageEvent.objects.filter(pk=event.pk).update(status=UsageEvent.Status.PENDING)

    assert services.charges_record(usage_event_id=event.pk) == 0
    assert Charge.objects.filter(idempotency_key="turn-42:completion").count() == 1


@pytest.mark.parametrize("events", [3, 60])
def test_the_events_of_one_task_are_written_together_in_the_same_few_statements(
    owner: Persona, teammate: Persona, events: int
) -> None:
    made = [_event(owner if n % 2 else teammate, turn_id=100 + n, tools=n % 3) for n in range(events)]
    gone = teammate.api_key.pk
    teammate.api_key.delete()  # deleted since its turns: their charges keep its name, not its id
    ids = [event.pk for event in made]
    expected = sum(1 + n % 3 for n in range(events))

    with CaptureQueriesContext(connection) as queries:
        assert record_charges_task.apply(args=(ids,)).get() == expected
    statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    # The events locked, the charges already written, the keys still there, the events marked
    # done: the same four whatever the number; the charges in as few inserts as the driver takes.
    work = [verb for verb in statements if verb not in ("INSERT", "SAVEPOINT", "RELEASE", "BEGIN", "COMMIT")]
    assert work == ["SELECT", "SELECT", "SELECT", "UPDATE"]
    assert 1 <= statements.count("INSERT") <= 3
    assert record_charges_task.apply(args=(ids,)).get() == 0  # delivered twice: nothing twice

    assert Charge.objects.count() == expected
    assert Charge.objects.filter(kind=ChargeKind.COMPLETION).count() == events
    assert not UsageEvent.objects.exclude(status=UsageEvent.Status.DONE).exists()
    assert set(UsageEvent.objects.values_list("attempts", flat=True)) == {1}
    assert not Charge.objects.filter(api_key_id=gone).exists()
    assert Charge.objects.filter(api_key_id=None, api_key_name=teammate.api_key.name).count() == sum(
        1 + n % 3 for n in range(events) if n % 2 == 0
    )


@pytest.mark.parametrize(
    "payload",
    [{"items": [{"key": "x"}]}, {"common": {}, "items": [{"key": "y"}]}, {}, {"common": None, "items": None}],
    ids=["no common part", "an empty common part", "nothing", "nulls"],
)
def test_a_malformed_event_does_not_hold_back_the_others_of_its_task(
    owner: Persona, payload: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    first, bad, last = (_event(owner, turn_id=n) for n in (61, 62, 63))
    UsageEvent.objects.filter(pk=bad.pk).update(payload=payload)

    assert services.charges_record_many(usage_event_ids=[first.pk, bad.pk, last.pk]) == 2

    assert sorted(Charge.objects.values_list("idempotency_key", flat=True)) == [
        "turn-61:completion",
        "turn-63:completion",
    ]
    statuses = dict(UsageEvent.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "done", bad.pk: "pending", last.pk: "done"}
    assert f"usage event {bad.pk} stays pending" in caplog.text


def test_charges_are_priced_from_the_price_table_in_the_database(owner: Persona) -> None:
    Price.objects.update_or_create(
        provider="openai", model="gpt-4o-mini", defaults={"prompt_per_million": 1, "completion_per_million": 2}
    )
    Price.objects.filter(provider="smarter", model="plugin").update(per_call=Decimal("0.001"))
    forget_prices()
    event = _event(owner, turn_id=43, tokens=(1_000_000, 500_000), tools=1)
    services.charges_record(usage_event_id=event.pk)

    assert Charge.objects.get(kind="completion").cost == Decimal("2.00000000")
    assert Charge.objects.get(kind="plugin").cost == Decimal("0.00100000")


def test_default_prices_are_seeded_once_and_edits_are_kept(db: Any) -> None:
    from smarter.apps.account.pricing import DEFAULT_CALL_PRICES, DEFAULT_PRICES

    Price.objects.all().delete()
    seed_default_prices(Price)  # what migration 0003 runs
    Price.objects.filter(provider="*", model="gpt-4o").update(prompt_per_million=3)
    seed_default_prices(Price)

    assert Price.objects.count() == len(DEFAULT_PRICES) + len(DEFAULT_CALL_PRICES)
    prices = dict(Price.objects.values_list("model", "prompt_per_million"))
    assert (prices["gpt-4o-mini"], prices["gpt-4o"]) == (Decimal("0.15"), Decimal("3"))


def test_pending_events_are_enqueued_again_by_the_sweep(owner: Persona) -> None:
    event = _event(owner, turn_id=44)
    UsageEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(minutes=10))

    with celery_mode(eager=True):
        assert services.pending_usage_events_requeue(older_than=timedelta(minutes=2)) == 1

    assert Charge.objects.filter(turn_id=44).count() == 1
    assert services.pending_usage_events_requeue(older_than=timedelta(minutes=2)) == 0


# --- the usage API ----------------------------------------------------------------------------------
def test_usage_is_grouped_by_day_chatbot_model_and_api_key(owner: Persona, teammate: Persona) -> None:
    for turn_id, (persona, bot, model) in enumerate(
        [(owner, "support", "gpt-4o-mini"), (owner, "sales", "gpt-4o"), (teammate, "support", "gpt-4o-mini")],
        start=1,
    ):
        event = _event(persona, turn_id, chatbot_name=bot, model=model, tokens=(1000, 100), tools=1)
        services.charges_record(usage_event_id=event.pk)

    by = {
        group: owner.client.get("/api/v1/usage/", {"group_by": group}).json()["data"]
        for group in ("day", "chatbot", "model", "api_key")
    }
    today = timezone.now().date().isoformat()
    assert [(row["key"], row["requests"]) for row in by["day"]["rows"]] == [(today, 3)]
    assert [(row["key"], row["requests"]) for row in by["chatbot"]["rows"]] == [("sales", 1), ("support", 2)]
    assert [(row["key"], row["total_tokens"]) for row in by["model"]["rows"]] == [
        ("gpt-4o", 1100),
        ("gpt-4o-mini", 2200),
    ]
    assert [(row["key"], row["requests"]) for row in by["api_key"]["rows"]] == [("owner_key", 2), ("teammate_key", 1)]
    for report in by.values():
        assert report["totals"] == {
            "requests": 3,
            "prompt_tokens": 3000,
            "completion_tokens": 300,
            "total_tokens": 3300,
            "cost": pytest.approx(float(by["day"]["totals"]["cost"])),
            "thumbs_up": 0,
            "thumbs_down": 0,
        }
    gpt4o = next(row for row in by["model"]["rows"] if row["key"] == "gpt-4o")
    assert gpt4o["cost"] == pytest.approx((2.5 * 1000 + 10 * 100) / 1_000_000)


def test_an_outsider_sees_none_of_another_accounts_usage(owner: Persona, outsider: Persona) -> None:
    services.charges_record(usage_event_id=_event(owner, 1).pk)

    body = outsider.client.get("/api/v1/usage/").json()["data"]

    assert body["rows"] == []
    assert body["totals"]["requests"] == 0


def test_usage_of_a_period_counts_only_that_period(owner: Persona) -> None:
    services.charges_record(usage_event_id=_event(owner, 1, created_at=timezone.now() - timedelta(days=40)).pk)
    services.charges_record(usage_event_id=_event(owner, 2).pk)

    recent = owner.client.get("/api/v1/usage/").json()["data"]["totals"]["requests"]
    old_day = (timezone.now() - timedelta(days=40)).date().isoformat()
    old = owner.client.get("/api/v1/usage/", {"start": old_day, "end": old_day}).json()["data"]["totals"]

    assert recent == 1
    assert old["requests"] == 1


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"group_by": "week"}, "group_by"),
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-13-01"}, "end"),
        ({"start": "2026-11-10", "end": "2026-11-01"}, "end"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "end"),
    ],
)
def test_bad_usage_parameters_answer_400_with_the_field(owner: Persona, params: dict[str, str], loc: str) -> None:
    response = owner.client.get("/api/v1/usage/", params)

    assert response.status_code == 400
    body = response.json()
    assert body["errorClass"] == "ValidationError"
    assert [error["loc"] for error in body["errors"]] == [loc]


def test_usage_needs_an_api_key(db: Any) -> None:
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/usage/").status_code == 401


def test_rollups_count_late_charges_once_however_often_they_run(owner: Persona, outsider: Persona) -> None:
    from smarter.apps.account.billing.models import UsageRollup

    three_days_ago = timezone.now() - timedelta(days=3)
    day = three_days_ago.replace(hour=0, minute=0, second=0, microsecond=0)
    for turn_id, persona in enumerate([owner, owner, outsider], start=1):
        # Drained late (after an outage): usage of three days ago, recorded now.
        event = _event(persona, turn_id, created_at=three_days_ago, tokens=(10, turn_id), tools=1)
        services.charges_record(usage_event_id=event.pk)

    for _ in range(2):
        assert services.usage_rollup(since=timezone.now() - timedelta(hours=1)) == 2

    days = UsageRollup.objects.filter(account=owner.account, period="day")
    hours = UsageRollup.objects.filter(account=owner.account, period="hour")
    assert [(r.period_start, r.requests, r.tool_calls, r.total_tokens) for r in days] == [(day, 2, 2, 23)]
    assert sum(r.total_tokens for r in hours) == 23
    report = usage_report_from_rollups(account=owner.account, start=day, end=day + timedelta(days=1), group_by="day")
    assert report == usage_report(account=owner.account, start=day, end=day + timedelta(days=1), group_by="day")
    assert report.totals.requests == 2
