"""The journal: readable by the account's admins, filterable, never by members or outsiders."""

from __future__ import annotations

import pytest

from smarter.apps.account.tests.factories import Persona

pytestmark = pytest.mark.django_db
JOURNAL = "/api/v1/journal/"


def test_admins_read_their_accounts_journal_newest_first(owner: Persona, teammate: Persona, outsider: Persona) -> None:
    teammate.client.get("/api/v1/cli/get/secrets/")
    owner.client.get("/api/v1/cli/describe/user/?name=teammate")
    outsider.client.get("/api/v1/cli/whoami/")
    entries = owner.client.get(JOURNAL).json()["data"]["entries"]
    assert [(e["username"], e["command"], e["kind"], e["name"], e["statusCode"]) for e in entries] == [
        ("owner", "describe", "User", "teammate", 200),
        ("teammate", "get", "Secret", "", 200),
    ]
    assert entries[0]["apiKey"] == "owner_key"


def test_the_journal_filters_by_command_kind_name_user_and_status(owner: Persona, teammate: Persona) -> None:
    owner.client.get("/api/v1/cli/describe/user/?name=teammate")
    owner.client.get("/api/v1/cli/describe/user/?name=ghost")
    teammate.client.get("/api/v1/cli/get/users/")
    assert [e["name"] for e in owner.client.get(JOURNAL + "?status=404").json()["data"]["entries"]] == ["ghost"]
    assert [e["username"] for e in owner.client.get(JOURNAL + "?username=teammate").json()["data"]["entries"]] == [
        "teammate"
    ]
    assert len(owner.client.get(JOURNAL + "?command=describe&kind=user").json()["data"]["entries"]) == 2
    assert len(owner.client.get(JOURNAL + "?name=teammate").json()["data"]["entries"]) == 1


def test_a_member_cannot_read_the_journal(teammate: Persona) -> None:
    response = teammate.client.get(JOURNAL)
    assert response.status_code == 403
    assert response.json()["errorClass"] == "PermissionDenied"


def test_bad_filters_are_400_with_the_field(owner: Persona) -> None:
    response = owner.client.get(JOURNAL + "?status=abc&limit=100000")
    assert response.status_code == 400
    assert [e["loc"] for e in response.json()["errors"]] == ["status", "limit"]


@pytest.mark.django_db(transaction=True)  # committed at once, as in production: a dangling key fails there
def test_deleting_the_key_you_call_with_keeps_the_journal_entry(owner: Persona) -> None:
    from smarter.apps.account.models import ApiKey, JournalEntry

    assert owner.client.get("/api/v1/cli/whoami/").status_code == 200
    response = owner.client.post("/api/v1/cli/delete/apikey/?name=owner_key")
    assert response.status_code == 200, response.content
    assert not ApiKey.objects.filter(name="owner_key").exists()
    assert owner.client.get("/api/v1/cli/whoami/").status_code == 401  # the key stopped working at once
    entries = list(JournalEntry.objects.order_by("id"))
    assert [(e.user_id, e.api_key_id, e.command, e.kind, e.name, e.status_code) for e in entries] == [
        (owner.user.pk, None, "whoami", "", "", 200),
        (owner.user.pk, None, "delete", "ApiKey", "owner_key", 200),
    ]
    assert entries[1].key == response.json()["metadata"]["key"]
    assert entries[1].request_id == response["X-Request-ID"]
