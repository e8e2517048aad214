"""The chat doors' one-statement lookup: the key's caller, the feature switches and the chatbot
with its plugins, for an owner, a teammate and an outsider of another account."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from smarter.apps.account import services as account_services
from smarter.apps.account.features import OPENAI_COMPATIBLE_ENDPOINT
from smarter.apps.account.features.services import feature_switch_set
from smarter.apps.account.models import Membership
from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.api.callers import resolve_caller
from smarter.apps.chatbot import services
from smarter.apps.chatbot.door_lookup import door_lookup
from smarter.apps.chatbot.selectors import attached_plugins, provider_of_turn
from smarter.apps.plugin import services as plugin_services
from smarter.lib.errors import NotAuthenticated, NotFound, PermissionDenied

pytestmark = pytest.mark.django_db

FEATURE = OPENAI_COMPATIBLE_ENDPOINT


def _plugin(persona: Persona, name: str) -> Any:
    return plugin_services.plugin_create(
        account=persona.account,
        name=name,
        plugin_class="static",
        description=f"the {name} plugin",
        selector={"directive": "always"},
        data={"description": f"the {name}", "staticData": {"answer": name}},
    )


@pytest.fixture
def support(owner: Persona) -> Any:
    # Attached in an order that is neither the plugins' names nor their creation order.
    first, second, third = (_plugin(owner, name) for name in ("catalogue", "prices", "hours"))
    return services.chatbot_create(account=owner.account, name="support", plugins=[third, first, second])


def test_the_owner_and_a_teammate_get_the_chatbot_and_its_plugins_in_their_order_in_one_statement(
    owner: Persona, teammate: Persona, support: Any
) -> None:
    for persona in (owner, teammate):
        with CaptureQueriesContext(connection) as queries:
            found = door_lookup(api_key=persona.key, chatbot_name="support", feature=FEATURE)
        assert len(queries) == 1
        assert found is not None
        assert (found.caller.user.pk, found.caller.account.pk, found.caller.role) == (
            persona.user.pk,
            owner.account.pk,
            persona.role,
        )
        assert found.feature_on is True
        assert found.chatbot is not None and found.chatbot.pk == support.pk
        with CaptureQueriesContext(connection) as queries:
            names = [plugin.name for plugin in attached_plugins(found.chatbot)]
        assert names == ["hours", "catalogue", "prices"]
        assert len(queries) == 0


def test_a_chatbot_without_plugins_is_found_with_none(owner: Persona) -> None:
    services.chatbot_create(account=owner.account, name="plain", plugins=[])
    found = door_lookup(api_key=owner.key, chatbot_name="plain", feature=None)
    assert found is not None and found.chatbot is not None
    assert found.chatbot.name == "plain"
    assert attached_plugins(found.chatbot) == []


def test_an_outsider_never_finds_another_accounts_chatbot_even_with_the_same_name(
    owner: Persona, outsider: Persona, support: Any
) -> None:
    found = door_lookup(api_key=outsider.key, chatbot_name="support", feature=FEATURE)
    assert found is not None
    assert found.caller.account.pk == outsider.account.pk
    assert found.chatbot is None
    with pytest.raises(NotFound):
        resolve_caller(f"Token {outsider.key}", "support", FEATURE)

    theirs = services.chatbot_create(account=outsider.account, name="support", plugins=[])
    found = door_lookup(api_key=outsider.key, chatbot_name="support", feature=FEATURE)
    assert found is not None and found.chatbot is not None
    assert found.chatbot.pk == theirs.pk
    assert attached_plugins(found.chatbot) == []


def test_a_revoked_key_a_wrong_secret_and_a_removed_member_find_nobody(
    owner: Persona, teammate: Persona, support: Any
) -> None:
    prefix, _, secret = teammate.key.rpartition("_")
    assert door_lookup(api_key=f"{prefix}_{'x' * len(secret)}", chatbot_name="support", feature=FEATURE) is None
    assert door_lookup(api_key="not-a-key", chatbot_name="support", feature=FEATURE) is None

    account_services.api_key_revoke(api_key=owner.api_key)
    assert door_lookup(api_key=owner.key, chatbot_name="support", feature=FEATURE) is None
    with pytest.raises(NotAuthenticated):
        resolve_caller(f"Token {owner.key}", "support", FEATURE)

    account_services.member_remove(membership=Membership.objects.get(account=teammate.account, user=teammate.user))
    assert door_lookup(api_key=teammate.key, chatbot_name="support", feature=FEATURE) is None


def test_the_accounts_own_switch_decides_before_the_global_one(owner: Persona, outsider: Persona, support: Any) -> None:
    services.chatbot_create(account=outsider.account, name="support", plugins=[])
    feature_switch_set(feature=FEATURE, active=False)
    feature_switch_set(feature=FEATURE, account=owner.account, active=True)
    mine = door_lookup(api_key=owner.key, chatbot_name="support", feature=FEATURE)
    theirs = door_lookup(api_key=outsider.key, chatbot_name="support", feature=FEATURE)
    assert mine is not None and mine.feature_on is True
    assert theirs is not None and theirs.feature_on is False
    with pytest.raises(PermissionDenied):
        resolve_caller(f"Token {outsider.key}", "support", FEATURE)
    assert resolve_caller(f"Token {owner.key}", "support", FEATURE)[1].pk == support.pk
    # Another feature's switches do not apply.
    other = door_lookup(api_key=outsider.key, chatbot_name="support", feature="custom_domains")
    assert other is not None and other.feature_on is True


def test_a_chatbot_on_the_accounts_own_provider_comes_with_it_and_its_key_in_the_same_statement(
    owner: Persona, outsider: Persona
) -> None:
    key = account_services.secret_create(account=owner.account, name="own_key", value="sk-own")
    services.provider_create(
        account=owner.account, name="mine", base_url="https://llm.example.com/v1", api_key=key, default_model="m"
    )
    # Another account's provider of the same name is never the one joined.
    theirs = account_services.secret_create(account=outsider.account, name="own_key", value="sk-theirs")
    services.provider_create(
        account=outsider.account,
        name="mine",
        base_url="https://theirs.example.com/v1",
        api_key=theirs,
        default_model="t",
    )
    services.chatbot_create(account=owner.account, name="own", plugins=[], provider="mine")
    with CaptureQueriesContext(connection) as queries:
        found = door_lookup(api_key=owner.key, chatbot_name="own", feature=FEATURE)
    assert len(queries) == 1
    assert found is not None and found.chatbot is not None
    with CaptureQueriesContext(connection) as queries:
        provider = provider_of_turn(account=owner.account, name="mine", chatbot=found.chatbot)
    assert len(queries) == 0
    assert provider is not None and provider.api_key is not None
    assert (provider.base_url, provider.account_id, provider.api_key.pk) == (
        "https://llm.example.com/v1",
        owner.account.pk,
        key.pk,
    )
    assert account_services.secret_reveal(secret=provider.api_key) == "sk-own"
    # Asked for another name (a plugin's overlay, say), it is read from the database.
    assert provider_of_turn(account=owner.account, name="other", chatbot=found.chatbot) is None


def test_a_chatbot_on_the_platforms_provider_or_a_vanished_one_comes_with_none(owner: Persona) -> None:
    services.chatbot_create(account=owner.account, name="plain", plugins=[])
    found = door_lookup(api_key=owner.key, chatbot_name="plain", feature=None)
    assert found is not None and found.chatbot is not None
    assert provider_of_turn(account=owner.account, name="openai", chatbot=found.chatbot) is None
