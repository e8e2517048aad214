"""Usernames are global (they sign in to the console) but never reveal other tenants: a name in
use anywhere is refused with one sentence that says neither whose nor where, and nothing changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User

from smarter.apps.account import services
from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.api.tests.helpers import database_snapshot

pytestmark = pytest.mark.django_db


def user_manifest(name: str, role: str = "member") -> str:
    return json.dumps(
        {
            "apiVersion": "smarter.sh/v1",
            "kind": "User",
            "metadata": {"name": name},
            "spec": {"config": {"email": f"{name}@example.test", "role": role}},
        }
    )


def apply_user(persona: Persona, name: str) -> Any:
    return persona.client.post("/api/v1/cli/apply/", data=user_manifest(name), content_type="application/json")


@pytest.fixture
def elsewhere(owner: Persona, teammate: Persona) -> dict[str, str]:
    """Names in use, each for another reason: why → username."""
    initech = make_account("Initech")
    make_persona(initech, "peter", Role.ADMIN)
    services.member_add(account=initech, username="milton", is_active=False)
    User.objects.create_superuser("operator", "operator@example.test", "pw")
    User.objects.create_user("orphan")  # a user left without any account
    return {
        "an admin of the caller's neighbour": "owner",
        "a member of the neighbour": "teammate",
        "an admin of a third account": "peter",
        "an inactive member": "milton",
        "the platform operator": "operator",
        "a user of no account": "orphan",
    }


def refusal(name: str, response: Any) -> dict[str, Any]:
    return {
        "errorClass": "Conflict",
        "status": 409,
        "description": f"The username {name!r} is not available; choose another.",
        "context": {"kind": "User", "name": name, "requestId": response["X-Request-ID"]},
    }


@pytest.mark.parametrize(
    "why",
    [
        "an admin of the caller's neighbour",
        "a member of the neighbour",
        "an admin of a third account",
        "an inactive member",
        "the platform operator",
        "a user of no account",
    ],
)
def test_a_name_in_use_anywhere_is_refused_the_same_way_and_nothing_changes(
    outsider: Persona, elsewhere: dict[str, str], why: str
) -> None:
    name = elsewhere[why]
    before = database_snapshot()
    response = apply_user(outsider, name)
    assert response.status_code == 409
    assert response.json() == refusal(name, response)
    assert database_snapshot() == before


def test_the_console_refuses_with_the_same_sentence(outsider: Persona, elsewhere: dict[str, str]) -> None:
    from smarter.apps.dashboard.tests.helpers import signed_in

    console = signed_in(outsider)  # signing in is a change of its own (the last login): before the snapshot
    before = database_snapshot()
    response = console.post("/dashboard/members/", {"username": "teammate", "role": "member"})
    assert response.status_code == 409
    assert response.context["error"] == "The username 'teammate' is not available; choose another."
    assert database_snapshot() == before


@pytest.mark.parametrize("name", ["owner", "peter", "operator", "brand_new"])
def test_a_member_learns_nothing_about_any_name(teammate: Persona, elsewhere: dict[str, str], name: str) -> None:
    before = database_snapshot()
    response = apply_user(teammate, name)
    assert response.status_code == 403
    assert response.json()["description"] == "Only an account admin may change User resources."
    assert database_snapshot() == before


def test_an_admin_updates_her_own_member_and_adds_a_free_name(
    owner: Persona, teammate: Persona, outsider: Persona
) -> None:
    assert apply_user(owner, "teammate").json()["data"]["applied"] == "unchanged"  # hers: an update
    assert apply_user(outsider, "grace").json()["data"]["applied"] == "created"
    assert apply_user(owner, "grace").status_code == 409  # now hers: refused to Acme the same way
