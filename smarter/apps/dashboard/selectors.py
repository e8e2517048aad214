"""Reads of the console; every one takes the account (or the user) and scopes by it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import OuterRef, QuerySet, Subquery

from smarter.apps.account.caller import Caller
from smarter.apps.account.models import Account, Membership
from smarter.apps.account.pricing import token_cost
from smarter.apps.chat.selectors import turns_of
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.chatbot.selectors import chatbot_get
from smarter.apps.chatbot.versions import versions_of
from smarter.apps.evaluation.models import EvalRun, TestSuite
from smarter.apps.evaluation.selectors import runs_of, test_suites_of


def memberships_of_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Membership]:
    """The active accounts a user may act in, for the account switcher."""
    return (
        Membership.objects.filter(user_id=int(user.pk or 0), account__is_active=True)
        .select_related("account")
        .order_by("account__company_name", "account_id")
    )


def turn_inspection(*, account: Account, chatbot: Chatbot, turn_id: int) -> dict[str, Any] | None:
    """Everything the sandbox's inspector shows about one turn, or None outside the account."""
    turn = turns_of(account, chatbot=chatbot).filter(pk=turn_id).prefetch_related("tool_calls", "selections").first()
    if turn is None:
        return None
    return {
        "id": turn.pk,
        "index": turn.index,
        "status": turn.status,
        "error": turn.error,
        "provider": turn.provider,
        "model": turn.model,
        "rounds": turn.rounds,
        "latency_ms": round(turn.latency_ms, 1),
        "tokens": {"prompt": turn.prompt_tokens, "completion": turn.completion_tokens, "total": turn.total_tokens},
        "cost": float(
            token_cost(
                model=turn.model,
                prompt_tokens=turn.prompt_tokens,
                completion_tokens=turn.completion_tokens,
            )
        ),
        "selections": [
            {
                "plugin": selection.plugin_name,
                "selected": selection.selected,
                "rule": selection.rule,
                "term": selection.term,
                "where": selection.matched_in,
            }
            for selection in turn.selections.all()
        ],
        "tool_calls": [
            {
                "round": call.round,
                "tool": call.tool_name,
                "plugin": call.plugin_name,
                "arguments": call.arguments,
                "result": call.result,
                "error": call.error,
                "executed": call.executed,
                "ms": round(call.ms, 2),
            }
            for call in turn.tool_calls.all()
        ],
        "messages": turn.request_messages,
    }


def chatbot_versions(caller: Caller, name: str) -> list[Any]:
    """The chatbot's configuration versions, newest first (empty for an unknown chatbot)."""
    chatbot = chatbot_get(account=caller.account, name=name)
    return versions_of(chatbot) if chatbot is not None else []


def test_suites_with_last_run(account: Account) -> list[tuple[TestSuite, EvalRun | None]]:
    """The account's suites by name, each with its newest run (two queries, however many suites)."""
    newest = EvalRun.objects.filter(suite=OuterRef("pk")).order_by("-created_at", "-id").values("pk")[:1]
    suites = list(test_suites_of(account).annotate(last_run_id=Subquery(newest)))
    runs = EvalRun.objects.filter(account=account, pk__in=[suite.last_run_id for suite in suites])
    by_id = {run.pk: run for run in runs}
    return [(suite, by_id.get(suite.last_run_id)) for suite in suites]


def recent_runs(account: Account, suite: TestSuite, limit: int) -> list[EvalRun]:
    """The suite's newest `limit` runs, newest first, with who started each."""
    return list(
        runs_of(account=account, suite=suite).select_related("created_by").order_by("-created_at", "-id")[:limit]
    )
