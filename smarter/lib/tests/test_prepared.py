"""Prepared inserts from plain values: the rows read back exactly as the ORM would have written them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.models import Chat, ChatMessage, Turn
from smarter.apps.chatbot import services as chatbot_services
from smarter.lib import prepared

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(owner: Persona) -> Chat:
    chatbot = chatbot_services.chatbot_create(account=owner.account, name="support", plugins=[])
    chat_id = prepared.insert(
        Chat,
        {
            "session_key": "s" * 48,
            "account_id": owner.account.pk,
            "chatbot_id": chatbot.pk,
            "channel": Chat._meta.get_field("channel").choices[0][0],
            "user_id": None,
            "api_key_id": owner.api_key.pk,
            "client_ip": "203.0.113.7",
            "user_agent": "probe/1.0",
        },
    )
    return Chat.objects.get(pk=chat_id)


def test_an_inserted_row_reads_back_with_defaults_times_and_foreign_keys(owner: Persona, chat: Chat) -> None:
    before = timezone.now()
    assert chat.session_key == "s" * 48
    assert chat.account_id == owner.account.pk
    assert chat.api_key_id == owner.api_key.pk and chat.user_id is None
    assert chat.uid == ""  # left out: the field's default
    assert chat.client_ip == "203.0.113.7"
    # created_at (default now) and updated_at (auto_now) were set at the insert, as aware times.
    assert chat.created_at.tzinfo is not None and chat.updated_at.tzinfo is not None
    assert before - timedelta(seconds=5) <= chat.created_at <= timezone.now()


def test_enum_json_and_float_values_are_converted_like_the_orm_does(chat: Chat) -> None:
    when = timezone.now() - timedelta(days=3)
    turn_id = prepared.insert(
        Turn,
        {
            "chat_id": chat.pk,
            "index": 1,
            "provider": "openai",
            "model": "gpt-4o-mini",
            "status": Turn.Status.ERROR,  # a str subclass: converted by its field
            "latency_ms": 12.5,
            "request_messages": [{"role": "user", "content": "naïve “quotes” and \\ backslashes"}],
            "created_at": when,
        },
    )
    turn = Turn.objects.get(pk=turn_id)
    assert turn.status == "error"
    assert turn.latency_ms == 12.5
    assert turn.request_messages == [{"role": "user", "content": "naïve “quotes” and \\ backslashes"}]
    assert abs((turn.created_at - when).total_seconds()) < 0.001
    assert (turn.rounds, turn.prompt_tokens, turn.error) == (1, 0, "")  # defaults


def test_many_rows_beyond_one_statements_bound_are_split_and_all_written(chat: Chat, monkeypatch: Any) -> None:
    turn_id = prepared.insert(Turn, {"chat_id": chat.pk, "index": 1, "provider": "p", "model": "m"})
    monkeypatch.setattr(prepared, "MAX_TEXT_PER_STATEMENT", 10_000)
    rows = [
        {
            "chat_id": chat.pk,
            "turn_id": turn_id,
            "sequence": number,
            "role": "user",
            "content": f"{number}:" + "x" * 4_000,
        }
        for number in range(1, 8)
    ]
    with CaptureQueriesContext(connection) as queries:
        prepared.insert_many(ChatMessage, rows)
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 4  # two rows of ~4 KB per statement under a 10 KB bound, then the last
    stored = list(ChatMessage.objects.filter(chat=chat).order_by("sequence").values_list("sequence", "content"))
    assert [sequence for sequence, _ in stored] == list(range(1, 8))
    assert all(content == f"{sequence}:" + "x" * 4_000 for sequence, content in stored)
    assert all(message.tool_calls == [] for message in ChatMessage.objects.filter(chat=chat))


def test_a_value_for_no_column_is_refused_and_nothing_is_written(chat: Chat) -> None:
    with pytest.raises(ValueError, match=r"Turn has no column for \['chat'\]"):
        prepared.insert(Turn, {"chat": chat.pk, "index": 1, "provider": "p", "model": "m"})
    assert not Turn.objects.exists()
