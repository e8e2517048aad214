"""Prepared inserts from plain values: the rows read back exactly as the ORM would have written them,
and only for models whose `save()`, save signals and database defaults they may bypass."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models
from django.db.models import Value, signals
from django.test.utils import CaptureQueriesContext, isolate_apps
from django.utils import timezone

from smarter.apps.account.billing.models import UsageEvent
from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.models import Chat, ChatMessage, PluginSelection, ToolCall, Turn
from smarter.apps.chat.tests.test_turn_pipeline import STATIC_PLUGIN, apply, chatbot, http, upstream  # noqa: F401
from smarter.apps.chatbot import services as chatbot_services
from smarter.lib import prepared
from smarter.testing.openai_stub import OpenAIStub, text_reply, tool_calls_reply


@pytest.fixture
def chat(owner: Persona, db: Any) -> Chat:
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


# --- what a prepared insert may bypass -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_every_model_a_turn_writes_with_prepared_inserts_has_no_save_of_its_own_no_save_receiver_and_no_db_default(
    upstream: OpenAIStub,  # noqa: F811
    owner: Persona,
    asgi_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real turn with a plugin selected and called, and its usage event: every model it writes
    through `prepared` is checked as it is now, so a `save()` override, a receiver or a
    `db_default` added to one of them fails here."""
    written: set[type[models.Model]] = set()
    insert, insert_many = prepared.insert, prepared.insert_many

    def recording_insert(model: type[models.Model], values: Any) -> int:
        written.add(model)
        return insert(model, values)

    def recording_insert_many(model: type[models.Model], rows: Any) -> None:
        written.add(model)
        insert_many(model, rows)

    monkeypatch.setattr(prepared, "insert", recording_insert)
    monkeypatch.setattr(prepared, "insert_many", recording_insert_many)
    with http(owner, asgi_server) as client:
        apply(client, STATIC_PLUGIN)
        chatbot(client, plugins=["catalogue"])
        upstream.enqueue(tool_calls_reply(("catalogue", {"inquiry_type": "price"})), text_reply("$12.50."))
        response = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "Gizmo price?"})
    assert response.status_code == 200, response.text
    assert ToolCall.objects.count() == 1 and UsageEvent.objects.count() == 1
    assert {Chat, Turn, ChatMessage, ToolCall, PluginSelection, UsageEvent} <= written
    assert {model.__name__: prepared.write_hazards(model) for model in written} == {
        model.__name__: [] for model in written
    }


@isolate_apps("smarter.apps.chat")
def test_a_save_override_a_save_receiver_and_a_db_default_are_each_named_and_refused() -> None:
    class Plain(models.Model):  # noqa: DJ008
        text = models.CharField(max_length=10, default="")

        class Meta:
            app_label = "chat"

    class Saving(models.Model):  # noqa: DJ008
        class Meta:
            app_label = "chat"

        def save(self, *args: Any, **kwargs: Any) -> None:
            super().save(*args, **kwargs)

    class Heard(models.Model):  # noqa: DJ008
        class Meta:
            app_label = "chat"

    class Listened(models.Model):  # noqa: DJ008
        class Meta:
            app_label = "chat"

    class Defaulted(models.Model):  # noqa: DJ008
        created = models.DateTimeField(db_default=Value(timezone.now()))

        class Meta:
            app_label = "chat"

    def receiver(**kwargs: Any) -> None:
        pass

    signals.pre_save.connect(receiver, sender=Heard, weak=False)
    signals.post_save.connect(receiver, sender=Listened, weak=False)
    try:
        assert prepared.write_hazards(Plain) == []
        assert prepared.write_hazards(Saving) == ["it overrides save()"]
        assert prepared.write_hazards(Heard) == ["a pre_save receiver listens to it"]
        assert prepared.write_hazards(Listened) == ["a post_save receiver listens to it"]
        assert prepared.write_hazards(Defaulted) == ["db_default on created"]
        for model in (Saving, Heard, Listened, Defaulted):
            with pytest.raises(ImproperlyConfigured, match=f"{model.__name__} cannot be written by a prepared insert"):
                prepared.insert(model, {})
    finally:
        signals.pre_save.disconnect(receiver, sender=Heard)
        signals.post_save.disconnect(receiver, sender=Listened)


# --- rows read by column name -------------------------------------------------------------------


def test_rows_are_read_by_column_name_whatever_the_order_of_the_columns(chat: Chat, db: Any) -> None:
    columns = prepared.named_columns(Chat, "c").split(", ")
    read = []
    for ordered in (columns, columns[::-1], columns[1:] + columns[:1]):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 AS {prepared.quote('extra')}, {', '.join(ordered)} FROM chat_chat c")  # noqa: S608
            found = prepared.NamedRows(cursor)
        [row] = found.rows
        assert found.value(row, "extra") == 1
        read.append(found.hydrate_named(Chat, row, "c"))
    fields = [field.attname for field in Chat._meta.concrete_fields]
    expected = [getattr(chat, name) for name in fields]
    assert [[getattr(each, name) for name in fields] for each in read] == [expected] * 3


def test_a_column_the_statement_does_not_name_is_a_key_error_never_another_columns_value(chat: Chat) -> None:
    columns = [column for column in prepared.named_columns(Chat, "c").split(", ") if "session_key" not in column]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM chat_chat c")  # noqa: S608
        found = prepared.NamedRows(cursor)
    with pytest.raises(KeyError, match=re.escape("c.session_key")):
        found.hydrate_named(Chat, found.rows[0], "c")
