"""Tenancy: for every kind, an owner, a teammate (member) and an outsider (another account).

The outsider gets 404 on get/describe/delete of the owner's resources and sees none of them
in lists; the teammate reads but may not change admin-only kinds.
"""

from __future__ import annotations

import pytest

from smarter.apps.account import services
from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import database_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def owned(owner: Persona, teammate: Persona) -> dict[str, str]:
    """One resource of each kind in the owner's account, by kind → name."""
    services.secret_create(account=owner.account, name="acme_db_password", value="p")
    services.api_key_create(account=owner.account, user=owner.user, name="acme_ci")
    return {
        "Secret": "acme_db_password",
        "ApiKey": "acme_ci",
        "User": "teammate",
        "Account": owner.account.name,
    }


KINDS = ["Secret", "ApiKey", "User", "Account"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_outsider_gets_404_on_describe_get_and_delete(owned: dict[str, str], outsider: Persona, kind: str) -> None:
    name = owned[kind]
    before = database_snapshot()
    for verb in ("describe", "get", "delete"):
        response = outsider.client.post(f"/api/v1/cli/{verb}/{kind}/?name={name}")
        assert response.status_code == 404, (verb, response.content)
        assert response.json()["errorClass"] == "NotFound"
        assert response.json()["context"] == {
            "kind": kind,
            "name": name,
            "requestId": response["X-Request-ID"],
        }
    assert database_snapshot() == before


@pytest.mark.parametrize("kind", KINDS)
def test_the_outsider_sees_none_of_the_owners_resources_in_lists(
    owned: dict[str, str], outsider: Persona, kind: str
) -> None:
    items = outsider.client.get(f"/api/v1/cli/get/{kind}/").json()["data"]["items"]
    assert owned[kind] not in [item["name"] for item in items]


@pytest.mark.parametrize("kind", KINDS)
def test_the_owner_and_the_teammate_can_describe(
    owned: dict[str, str], owner: Persona, teammate: Persona, kind: str
) -> None:
    assert owner.client.get(f"/api/v1/cli/describe/{kind}/?name={owned[kind]}").status_code == 200
    if kind == "ApiKey":
        # Members see only their own keys.
        assert teammate.client.get(f"/api/v1/cli/describe/{kind}/?name={owned[kind]}").status_code == 404
    else:
        assert teammate.client.get(f"/api/v1/cli/describe/{kind}/?name={owned[kind]}").status_code == 200


def test_the_outsider_cannot_reach_the_owners_secret_by_applying_over_it(
    owned: dict[str, str], outsider: Persona
) -> None:
    body = (
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: acme_db_password}\nspec: {config: {value: mine}}\n"
    )
    response = outsider.client.post("/api/v1/cli/apply/", data=body, content_type="application/yaml")
    assert response.json()["data"]["applied"] == "created"  # a new secret of the outsider's own
    owner_secret = services.Secret.objects.get(account__name="acme", name="acme_db_password")
    assert services.secret_reveal(secret=owner_secret) == "p"


@pytest.mark.parametrize(
    ("kind", "manifest"),
    [
        ("Secret", "kind: Secret\nmetadata: {name: s}\nspec: {config: {value: v}}"),
        ("ApiKey", "kind: ApiKey\nmetadata: {name: k}\nspec: {config: {}}"),
        ("User", "kind: User\nmetadata: {name: newbie}\nspec: {config: {email: n@example.test}}"),
        ("Account", "kind: Account\nmetadata: {name: newco}\nspec: {config: {companyName: NewCo}}"),
    ],
)
def test_a_teammate_cannot_apply_admin_kinds(teammate: Persona, kind: str, manifest: str) -> None:
    before = database_snapshot()
    response = teammate.client.post(
        "/api/v1/cli/apply/", data=f"apiVersion: smarter.sh/v1\n{manifest}\n", content_type="application/yaml"
    )
    assert response.status_code == 403
    assert response.json()["context"]["kind"] == kind
    assert database_snapshot() == before


def test_only_the_platform_operator_creates_accounts(owner: Persona) -> None:
    body = "apiVersion: smarter.sh/v1\nkind: Account\nmetadata: {name: newco}\nspec: {config: {companyName: NewCo}}\n"
    assert owner.client.post("/api/v1/cli/apply/", data=body, content_type="application/yaml").status_code == 403
    owner.user.is_superuser = True
    owner.user.save()
    response = owner.client.post("/api/v1/cli/apply/", data=body, content_type="application/yaml")
    assert response.status_code == 200
    assert response.json()["data"]["manifest"]["status"]["accountNumber"]
    names = [item["name"] for item in owner.client.get("/api/v1/cli/get/accounts/").json()["data"]["items"]]
    assert names == ["acme", "newco"]


def test_an_admin_cannot_remove_the_last_admin_or_change_their_own_role(owner: Persona) -> None:
    body = "apiVersion: smarter.sh/v1\nkind: User\nmetadata: {name: owner}\nspec: {config: {email: owner@example.test, role: member}}\n"
    response = owner.client.post("/api/v1/cli/apply/", data=body, content_type="application/yaml")
    assert response.status_code == 409
    assert owner.client.post("/api/v1/cli/delete/user/?name=owner").status_code == 409
    second = services.member_add(account=owner.account, username="second", email="s@example.test", role=Role.ADMIN)
    assert second.role == Role.ADMIN


def test_kind_words_are_case_insensitive_and_plural(owned: dict[str, str], owner: Persona) -> None:
    for word in ("secret", "Secrets", "SECRET", "apikeys", "smarterauthtoken", "SmarterAuthTokens", "users"):
        response = owner.client.get(f"/api/v1/cli/get/{word}/")
        assert response.status_code == 200, word
    assert owner.client.get("/api/v1/cli/get/smarterauthtokens/").json()["thing"] == "ApiKey"
