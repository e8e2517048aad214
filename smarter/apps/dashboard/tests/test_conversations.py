"""A chatbot's conversations in the console: the sessions of every channel, each filter narrowing
the list exactly, a session's transcript, the CSV and JSON-lines exports, the visitors' ratings in
usage; members read it all, another account finds none of it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from smarter.apps.account.billing import services as billing_services
from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.models import Chat, ChatMessage, ToolCall, Turn
from smarter.apps.chat.services import feedback_record
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.chatbot.selectors import chatbot_get
from smarter.apps.dashboard.tests.helpers import apply, chatbot, signed_in

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CITATION = {"document": "warranty.md", "documentId": 7, "chunk": 2, "score": 0.91}


def _chatbot(persona: Persona, name: str = "shop") -> Chatbot:
    apply(persona, chatbot(name))
    found = chatbot_get(account=persona.account, name=name)
    assert found is not None
    return found


def _session(
    bot: Chatbot,
    key: str,
    *,
    channel: str = "public",
    started: datetime = DAY,
    turns: list[tuple[str, str, str]] | None = None,
) -> Chat:
    """A stored session with its turns (prompt, answer, status), messages and outbox rows."""
    chat = Chat.objects.create(session_key=key, account=bot.account, chatbot=bot, channel=channel, created_at=started)
    sequence = 0
    for index, (prompt, answer, status) in enumerate(turns or [("hello", "Hi there.", "ok")], start=1):
        at = started + timedelta(minutes=index)
        turn = Turn.objects.create(
            chat=chat,
            index=index,
            provider="openai",
            model="gpt-4o-mini",
            prompt_tokens=100,
            completion_tokens=20,
            total_tokens=120,
            latency_ms=850.0,
            status=status,
            error="The model timed out." if status == "error" else "",
            created_at=at,
        )
        for role, content in (("user", prompt), ("assistant", answer)):
            sequence += 1
            ChatMessage.objects.create(
                chat=chat, turn=turn, sequence=sequence, role=role, content=content, created_at=at
            )
        event_id = billing_services.usage_event_record(
            account=bot.account,
            turn_id=turn.pk,
            created_at=at,
            user=None,
            api_key=None,
            chatbot_id=bot.pk,
            chatbot_name=bot.name,
            session_key=key,
            channel=channel,
            provider="openai",
            model="gpt-4o-mini",
            prompt_tokens=100,
            completion_tokens=20,
            tools=[],
        )
        billing_services.charges_record(usage_event_id=event_id)
    return chat


def _rate(chat: Chat, turn: int, rating: str | None, comment: str = "") -> None:
    feedback_record(
        account=chat.account,
        chatbot=chat.chatbot,
        session_key=chat.session_key,
        turn=turn,
        rating=rating,
        comment=comment,
    )


@pytest.fixture
def sessions(owner: Persona) -> dict[str, Chat]:
    """Five sessions of `shop` on three days and four channels, and one of another chatbot."""
    bot = _chatbot(owner)
    made = {
        "refund": _session(bot, "s-refund", started=DAY, turns=[("Can I get a refund?", "Yes, within 30 days.", "ok")]),
        "broken": _session(
            bot,
            "s-broken",
            channel="api",
            started=DAY + timedelta(days=1),
            turns=[("Where is my order?", "", "error"), ("Hello?", "It ships today.", "ok")],
        ),
        "praised": _session(
            bot,
            "s-praised",
            channel="sandbox",
            started=DAY + timedelta(days=1, hours=2),
            turns=[("Gizmo colours?", "Red and teal.", "ok")],
        ),
        "mixed": _session(
            bot,
            "s-mixed",
            channel="whatsapp",
            started=DAY + timedelta(days=2),
            turns=[("Price?", "$12.50.", "ok"), ("Warranty?", "Two years.", "ok")],
        ),
        "silent": _session(bot, "s-silent", started=DAY + timedelta(days=2, hours=1)),
    }
    _rate(made["praised"], 1, "up", "Exactly what I needed")
    _rate(made["mixed"], 1, "up")
    _rate(made["mixed"], 2, "down", "Too short")
    _rate(made["refund"], 1, None, "just a comment")  # a comment without a rating is not a rating
    _session(_chatbot(owner, "kiosk"), "s-kiosk", started=DAY)
    return made


def _listed(client: Client, query: str = "") -> list[str]:
    response = client.get(f"/dashboard/chatbots/shop/conversations/{query}")
    assert response.status_code == 200, response.content
    return [session.session_key for session, _ in response.context["rows"]]


def test_the_list_shows_every_channels_sessions_newest_first_with_their_summary(
    owner: Persona, sessions: dict[str, Chat]
) -> None:
    response = signed_in(owner).get("/dashboard/chatbots/shop/conversations/")
    rows = [
        (s.session_key, s.channel, s.turn_count, preview, s.thumbs_up, s.thumbs_down, s.error_count)
        for s, preview in response.context["rows"]
    ]
    assert rows == [
        ("s-silent", "public", 1, "Hi there.", 0, 0, 0),
        ("s-mixed", "whatsapp", 2, "Two years.", 1, 1, 0),
        ("s-praised", "sandbox", 1, "Red and teal.", 1, 0, 0),
        ("s-broken", "api", 2, "It ships today.", 0, 0, 1),
        ("s-refund", "public", 1, "Yes, within 30 days.", 0, 0, 0),
    ]
    html = response.content.decode()
    assert 'href="/dashboard/chatbots/shop/conversations/s-mixed/"' in html
    assert (
        '<span class="pill ok" title="thumbs up">1 up</span> <span class="pill bad" title="thumbs down">1 down</span>'
        in html
    )
    assert '<span class="pill bad">1 failed</span>' in html
    assert "s-kiosk" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?q=refund", ["s-refund"]),
        ("?q=TEAL", ["s-praised"]),
        ("?q=nothing+says+this", []),
        ("?start=2026-03-11", ["s-silent", "s-mixed", "s-praised", "s-broken"]),
        ("?end=2026-03-11", ["s-praised", "s-broken", "s-refund"]),
        ("?start=2026-03-11&end=2026-03-11", ["s-praised", "s-broken"]),
        ("?channel=public", ["s-silent", "s-refund"]),
        ("?channel=whatsapp", ["s-mixed"]),
        ("?rating=up", ["s-mixed", "s-praised"]),
        ("?rating=down", ["s-mixed"]),
        ("?rating=any", ["s-mixed", "s-praised"]),
        ("?rating=none", ["s-silent", "s-broken", "s-refund"]),
        ("?errors_only=1", ["s-broken"]),
        ("?channel=public&q=refund&rating=none", ["s-refund"]),
    ],
)
def test_each_filter_narrows_the_list_exactly(
    owner: Persona, sessions: dict[str, Chat], query: str, expected: list[str]
) -> None:
    assert _listed(signed_in(owner), query) == expected


def test_the_list_is_paginated(owner: Persona) -> None:
    bot = _chatbot(owner)
    for number in range(27):
        _session(bot, f"s-{number:02d}", started=DAY + timedelta(minutes=number))
    client = signed_in(owner)
    assert _listed(client) == [f"s-{number:02d}" for number in range(26, 1, -1)]
    second = client.get("/dashboard/chatbots/shop/conversations/?page=2")
    assert [session.session_key for session, _ in second.context["rows"]] == ["s-01", "s-00"]
    assert "Page 2 of 2 · 27 sessions" in second.content.decode()


def test_bad_filters_answer_400_naming_them_and_list_nothing(owner: Persona, sessions: dict[str, Chat]) -> None:
    client = signed_in(owner)
    response = client.get("/dashboard/chatbots/shop/conversations/?start=yesterday&channel=fax&rating=meh")
    assert response.status_code == 400
    assert sorted(response.context["filter_errors"]) == ["channel", "rating", "start"]
    assert response.context["rows"] == []
    reversed_range = client.get("/dashboard/chatbots/shop/conversations/?start=2026-03-12&end=2026-03-11")
    assert reversed_range.status_code == 400
    assert "end: must be on or after start" in reversed_range.content.decode()
    export = client.get("/dashboard/chatbots/shop/conversations.csv?rating=meh&end=soon")
    assert export.status_code == 400
    assert export.json()["errorClass"] == "ValidationError"
    assert sorted(error["loc"] for error in export.json()["errors"]) == ["end", "rating"]


def test_the_transcript_shows_every_message_tool_call_citation_usage_and_rating(
    owner: Persona, sessions: dict[str, Chat]
) -> None:
    chat = sessions["mixed"]
    second = chat.turns.get(index=2)
    ToolCall.objects.create(
        turn=second,
        chat=chat,
        round=1,
        call_id="call_1",
        tool_name="warranty_docs",
        plugin_name="warranty_docs",
        arguments={"query": "warranty"},
        result={"years": 2},
        ms=12.5,
    )
    Turn.objects.filter(pk=second.pk).update(citations=[CITATION])
    response = signed_in(owner).get("/dashboard/chatbots/shop/conversations/s-mixed/")
    assert response.status_code == 200
    transcript = response.context["transcript"]
    assert [(item.turn.index, [(m.role, m.content) for m in item.messages]) for item in transcript.turns] == [
        (1, [("user", "Price?"), ("assistant", "$12.50.")]),
        (2, [("user", "Warranty?"), ("assistant", "Two years.")]),
    ]
    html = response.content.decode()
    assert (
        '<td class="mono">warranty_docs</td><td class="mono small">{&#x27;query&#x27;: &#x27;warranty&#x27;}</td>'
        in html
    )
    assert "{&#x27;years&#x27;: 2}" in html and '<td class="num">12.5</td>' in html
    assert 'warranty.md <span class="muted small">chunk 2 · score 0.910</span>' in html
    assert "100 + 20 = 120 tokens" in html and "850 ms" in html
    assert '<span class="pill ok feedback-rating">Thumbs up</span>' in html
    assert '<span class="pill bad feedback-rating">Thumbs down</span>' in html
    assert '<blockquote class="feedback-comment">Too short</blockquote>' in html
    broken = signed_in(owner).get("/dashboard/chatbots/shop/conversations/s-broken/").content.decode()
    assert '<span class="pill bad turn-status">error</span>' in broken
    assert '<div class="alert error turn-error">The model timed out.</div>' in broken


def test_the_exports_have_one_row_per_turn_of_the_filtered_sessions(owner: Persona, sessions: dict[str, Chat]) -> None:
    client = signed_in(owner)
    exported = client.get("/dashboard/chatbots/shop/conversations.csv?rating=any")
    assert exported.status_code == 200
    assert exported["Content-Type"] == "text/csv; charset=utf-8"
    assert exported["Content-Disposition"] == 'attachment; filename="shop-conversations.csv"'
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    mixed_1, mixed_2, praised = (
        sessions["mixed"].turns.get(index=1),
        sessions["mixed"].turns.get(index=2),
        sessions["praised"].turns.get(index=1),
    )
    cost = f"{_cost():f}"
    assert rows == [
        ["session_key", "turn", "channel", "time", "prompt", "answer", "rating", "comment", "tokens", "cost", "status"],
        ["s-mixed", "1", "whatsapp", mixed_1.created_at.isoformat(), "Price?", "$12.50.", "up", "", "120", cost, "ok"],
        [
            "s-mixed",
            "2",
            "whatsapp",
            mixed_2.created_at.isoformat(),
            "Warranty?",
            "Two years.",
            "down",
            "Too short",
            "120",
            cost,
            "ok",
        ],
        [
            "s-praised",
            "1",
            "sandbox",
            praised.created_at.isoformat(),
            "Gizmo colours?",
            "Red and teal.",
            "up",
            "Exactly what I needed",
            "120",
            cost,
            "ok",
        ],
    ]
    lines = client.get("/dashboard/chatbots/shop/conversations.jsonl?errors_only=1")
    assert lines["Content-Type"] == "application/x-ndjson; charset=utf-8"
    broken = sessions["broken"].turns.order_by("index")
    assert [json.loads(line) for line in lines.content.decode().splitlines()] == [
        {
            "session_key": "s-broken",
            "turn": turn.index,
            "channel": "api",
            "time": turn.created_at.isoformat(),
            "prompt": prompt,
            "answer": answer,
            "rating": None,
            "comment": "",
            "tokens": 120,
            "cost": cost,
            "status": status,
        }
        for turn, (prompt, answer, status) in zip(
            broken, [("Where is my order?", "", "error"), ("Hello?", "It ships today.", "ok")], strict=True
        )
    ]


def _cost() -> Any:
    from smarter.apps.account.pricing import token_cost

    return token_cost(provider="openai", model="gpt-4o-mini", prompt_tokens=100, completion_tokens=20)


def test_usage_counts_thumbs_up_and_down_grouped_like_the_rest(owner: Persona, sessions: dict[str, Chat]) -> None:
    start, end = "2026-03-01", "2026-03-31"
    by_channel = owner.client.get(f"/api/v1/usage/?start={start}&end={end}&group_by=channel").json()["data"]
    assert [(row["key"], row["requests"], row["thumbs_up"], row["thumbs_down"]) for row in by_channel["rows"]] == [
        ("api", 2, 0, 0),
        ("public", 3, 0, 0),
        ("sandbox", 1, 1, 0),
        ("whatsapp", 2, 1, 1),
    ]
    assert (by_channel["totals"]["thumbs_up"], by_channel["totals"]["thumbs_down"]) == (2, 1)
    by_day = owner.client.get(f"/api/v1/usage/?start={start}&end={end}&group_by=day").json()["data"]
    assert [(row["key"], row["thumbs_up"], row["thumbs_down"]) for row in by_day["rows"]] == [
        ("2026-03-10", 0, 0),
        ("2026-03-11", 1, 0),
        ("2026-03-12", 1, 1),
    ]
    _rate(sessions["mixed"], 2, None)  # cleared: no longer counted
    by_chatbot = owner.client.get(f"/api/v1/usage/?start={start}&end={end}&group_by=chatbot").json()["data"]
    assert [(row["key"], row["thumbs_up"], row["thumbs_down"]) for row in by_chatbot["rows"]] == [
        ("kiosk", 0, 0),
        ("shop", 2, 0),
    ]


def test_the_usage_page_shows_the_ratings(owner: Persona) -> None:
    bot = _chatbot(owner)
    now = timezone.now() - timedelta(hours=1)
    _rate(_session(bot, "s-today", started=now, turns=[("a", "b", "ok"), ("c", "d", "ok")]), 1, "up")
    _rate(Chat.objects.get(session_key="s-today"), 2, "down")
    response = signed_in(owner).get("/dashboard/usage/?days=7")
    assert (response.context["totals"].thumbs_up, response.context["totals"].thumbs_down) == (1, 1)
    html = response.content.decode()
    assert '<div class="value small-value" id="kpi-thumbs">1 up / 1 down</div>' in html
    assert '<td class="num thumbs-up">1</td><td class="num thumbs-down">1</td>' in html


ROUTES = (
    "/dashboard/chatbots/shop/conversations/",
    "/dashboard/chatbots/shop/conversations/s-mixed/",
    "/dashboard/chatbots/shop/conversations.csv",
    "/dashboard/chatbots/shop/conversations.jsonl",
)


@pytest.mark.parametrize("route", ROUTES)
def test_owner_and_teammate_read_conversations_and_an_outsider_finds_none(
    owner: Persona, teammate: Persona, outsider: Persona, sessions: dict[str, Chat], route: str
) -> None:
    assert signed_in(owner).get(route).status_code == 200
    assert signed_in(teammate).get(route).status_code == 200
    refused = signed_in(outsider).get(route)
    assert refused.status_code == 404
    assert b"s-mixed" not in refused.content and b"Price?" not in refused.content
    anonymous = Client().get(route)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


def test_an_outsiders_chatbot_of_the_same_name_lists_none_of_ours(
    owner: Persona, outsider: Persona, sessions: dict[str, Chat]
) -> None:
    _chatbot(outsider)
    client = signed_in(outsider)
    assert _listed(client) == []
    assert client.get("/dashboard/chatbots/shop/conversations/s-mixed/").status_code == 404
    exported = client.get("/dashboard/chatbots/shop/conversations.csv").content.decode()
    assert exported.splitlines() == ["session_key,turn,channel,time,prompt,answer,rating,comment,tokens,cost,status"]
    assert client.get("/dashboard/chatbots/shop/conversations.jsonl").content == b""


def test_a_session_of_another_chatbot_is_not_found_under_this_one(owner: Persona, sessions: dict[str, Chat]) -> None:
    assert signed_in(owner).get("/dashboard/chatbots/shop/conversations/s-kiosk/").status_code == 404
    assert signed_in(owner).get("/dashboard/chatbots/kiosk/conversations/s-kiosk/").status_code == 200


def test_the_chatbot_page_links_to_its_conversations(owner: Persona) -> None:
    _chatbot(owner)
    html = signed_in(owner).get("/dashboard/chatbots/shop/").content.decode()
    assert 'id="conversations-link" href="/dashboard/chatbots/shop/conversations/"' in html
