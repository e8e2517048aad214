"""Every console page, table-driven: anonymous visitors are sent to sign in, an outsider finds
no object of another account (404), and a member's admin actions are refused (403) and change
nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from smarter.apps.account.models import ApiKey, Membership, Secret
from smarter.apps.account.services import secret_create
from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.models import Chat, Turn
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.dashboard.tests.helpers import apply, shop, signed_in
from smarter.lib.manifests import broker_for

SQL_CONNECTION = broker_for("SqlConnection").example()

PAGES = [
    "/dashboard/",
    "/dashboard/chatbots/",
    "/dashboard/chatbots/shop/",
    "/dashboard/chatbots/shop/sandbox/",
    "/dashboard/plugins/",
    "/dashboard/plugins/catalogue/",
    "/dashboard/connections/",
    "/dashboard/connections/sql/course_catalogue_db/",
    "/dashboard/secrets/",
    "/dashboard/api-keys/",
    "/dashboard/members/",
    "/dashboard/journal/",
    "/dashboard/apply/",
    "/dashboard/usage/",
    "/dashboard/evals/",
    "/dashboard/usage.csv",
]

# Acme's objects, as another account's admin would reach for them.
OBJECTS = [
    ("get", "/dashboard/chatbots/shop/"),
    ("post", "/dashboard/chatbots/shop/"),
    ("get", "/dashboard/chatbots/shop/sandbox/"),
    ("get", "/dashboard/chatbots/shop/sandbox/turns/{turn}/"),
    ("post", "/dashboard/chatbots/shop/deploy/"),
    ("post", "/dashboard/chatbots/shop/undeploy/"),
    ("get", "/dashboard/plugins/catalogue/"),
    ("post", "/dashboard/plugins/catalogue/"),
    ("post", "/dashboard/plugins/catalogue/test/"),
    ("get", "/dashboard/connections/sql/course_catalogue_db/"),
    ("post", "/dashboard/api-keys/owner_key/revoke/"),
    ("post", "/dashboard/members/teammate/"),
    ("post", "/dashboard/members/teammate/remove/"),
    ("post", "/dashboard/secrets/warehouse_password/"),
    ("post", "/dashboard/secrets/warehouse_password/delete/"),
]

# What only an account admin may do.
ADMIN_ACTIONS = [
    ("post", "/dashboard/api-keys/", {"name": "sneaky"}),
    ("post", "/dashboard/api-keys/owner_key/revoke/", {}),
    ("post", "/dashboard/members/", {"username": "intruder", "role": "admin"}),
    ("post", "/dashboard/members/teammate/", {"role": "admin"}),
    ("post", "/dashboard/members/owner/remove/", {}),
    ("post", "/dashboard/secrets/", {"name": "sneaky", "value": "x"}),
    ("post", "/dashboard/secrets/warehouse_password/", {"value": "changed"}),
    ("post", "/dashboard/secrets/warehouse_password/delete/", {}),
    ("post", "/dashboard/chatbots/shop/deploy/", {}),
    ("post", "/dashboard/chatbots/shop/undeploy/", {}),
    ("get", "/dashboard/journal/", {}),
]


@pytest.fixture
def acme_objects(owner: Persona, smarter_settings: Any, tmp_path: Path) -> dict[str, Any]:
    smarter_settings.plugin_data_dir = str(tmp_path)
    shop(owner)
    apply(owner, SQL_CONNECTION)
    secret_create(account=owner.account, name="warehouse_password", value="s3cret")
    chatbot = Chatbot.objects.get(name="shop")
    chat = Chat.objects.create(session_key="k" * 32, account=owner.account, chatbot=chatbot, channel="sandbox")
    turn = Turn.objects.create(chat=chat, index=1, provider="offline", model="smarter-offline")
    return {"turn": turn.pk}


def state() -> tuple[Any, ...]:
    """Everything the refused requests could have changed."""
    return (
        sorted(ApiKey.objects.values_list("name", "revoked_at")),
        sorted(Membership.objects.values_list("user__username", "role")),
        sorted(Secret.objects.values_list("name", "encrypted_value")),
        sorted(Chatbot.objects.values_list("name", "deployed")),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_an_anonymous_visitor_is_sent_to_sign_in(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_an_admin_sees_every_page(path: str, owner: Persona, acme_objects: dict[str, Any]) -> None:
    assert signed_in(owner).get(path).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), OBJECTS)
def test_an_outsider_finds_no_object_of_another_account(
    method: str, path: str, owner: Persona, teammate: Persona, outsider: Persona, acme_objects: dict[str, Any]
) -> None:
    before = state()
    response = getattr(signed_in(outsider), method)(path.format(**acme_objects), {"role": "member"})
    assert response.status_code == 404
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "data"), ADMIN_ACTIONS)
def test_a_member_is_refused_the_admin_actions(
    method: str, path: str, data: dict[str, str], owner: Persona, teammate: Persona, acme_objects: dict[str, Any]
) -> None:
    before = state()
    response = getattr(signed_in(teammate), method)(path, data)
    assert response.status_code == 403
    assert b"Only an account admin may do this." in response.content
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "data"), ADMIN_ACTIONS)
def test_an_anonymous_admin_action_changes_nothing(
    method: str, path: str, data: dict[str, str], owner: Persona, teammate: Persona, acme_objects: dict[str, Any]
) -> None:
    before = state()
    response = getattr(Client(), method)(path, data)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    assert state() == before


# The turn endpoint works in database threads, which see only committed data.
@pytest.mark.django_db(transaction=True)
def test_the_sandbox_turn_endpoint_refuses_anonymous_and_outsiders(
    owner: Persona, outsider: Persona, acme_objects: dict[str, Any]
) -> None:
    body = {"prompt": "hello"}
    anonymous = Client(enforce_csrf_checks=False).post(
        "/dashboard/chatbots/shop/sandbox/turn/", body, content_type="application/json"
    )
    assert (anonymous.status_code, anonymous.json()["errorClass"]) == (401, "NotAuthenticated")
    foreign = signed_in(outsider).post("/dashboard/chatbots/shop/sandbox/turn/", body, content_type="application/json")
    assert (foreign.status_code, foreign.json()["description"]) == (
        404,
        "Chatbot 'shop' was not found in your account.",
    )
    assert Turn.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_turn_endpoint_needs_the_csrf_token(owner: Persona, acme_objects: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)  # type: ignore[arg-type]
    response = client.post("/dashboard/chatbots/shop/sandbox/turn/", {"prompt": "hi"}, content_type="application/json")
    assert response.status_code == 403
    assert Turn.objects.count() == 1
