"""The usage page's cards count exactly what its charts and tables show: the same period, the same
totals, a turn just outside the period in none of them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from smarter.apps.account.billing import services as billing_services
from smarter.apps.account.pricing import token_cost
from smarter.apps.account.tests.factories import Persona
from smarter.apps.dashboard.tests.helpers import signed_in

pytestmark = pytest.mark.django_db

# (days ago, chatbot, prompt tokens, completion tokens)
TURNS = [(0, "shop", 1000, 500), (3, "kiosk", 200, 100), (6, "shop", 40, 10), (8, "shop", 7000, 3000)]


def record(persona: Persona, turn: int, days_ago: int, chatbot: str, prompt: int, completion: int) -> None:
    event_id = billing_services.usage_event_record(
        account=persona.account,
        turn_id=turn,
        created_at=timezone.now() - timedelta(days=days_ago),
        user=None,
        api_key=None,
        chatbot_id=turn,
        chatbot_name=chatbot,
        session_key=f"s{turn}",
        channel="api",
        provider="openai",
        model="gpt-4o-mini",
        prompt_tokens=prompt,
        completion_tokens=completion,
        tools=[],
    )
    billing_services.charges_record(usage_event_id=event_id)


def cost(turns: list[tuple[int, str, int, int]]) -> Decimal:
    return sum(
        (token_cost(model="gpt-4o-mini", prompt_tokens=p, completion_tokens=c) for _, _, p, c in turns), Decimal(0)
    )


@pytest.mark.parametrize(("days", "counted"), [(7, TURNS[:3]), (30, TURNS)])
def test_the_cards_the_charts_and_the_tables_count_the_same_turns(
    owner: Persona, days: int, counted: list[tuple[int, str, int, int]]
) -> None:
    for turn, (days_ago, chatbot, prompt, completion) in enumerate(TURNS, start=1):
        record(owner, turn, days_ago, chatbot, prompt, completion)
    response = signed_in(owner).get(f"/dashboard/usage/?days={days}")
    context = response.context
    tokens = sum(p + c for _, _, p, c in counted)
    totals = context["totals"]
    assert (totals.requests, totals.total_tokens, totals.cost) == (len(counted), tokens, cost(counted))
    # The cards as the page prints them.
    page = response.content.decode()
    assert f'<div class="value" id="kpi-requests">{len(counted)}</div>' in page
    assert f'<div class="value" id="kpi-tokens">{tokens}</div>' in page
    assert f'<div class="value" id="kpi-cost">${cost(counted):.4f}</div>' in page
    # The charts: one bar a day of the same period, adding up to the cards.
    today = timezone.localdate()
    bars = context["tokens_chart"].bars
    assert [bar.label for bar in bars] == [(today - timedelta(days=days - 1 - n)).isoformat() for n in range(days)]
    assert sum(bar.value for bar in bars) == tokens
    assert Decimal(str(sum(bar.value for bar in context["cost_chart"].bars))).quantize(Decimal("1e-8")) == cost(
        counted
    ).quantize(Decimal("1e-8"))
    # The tables too.
    assert sum(row.total_tokens for row in context["by_chatbot"]) == tokens
    assert sum(row.requests for row in context["by_model"]) == len(counted)
    first = (today - timedelta(days=days - 1)).isoformat()
    assert f"Last {days} days, {first} to {today.isoformat()} (UTC)" in page
