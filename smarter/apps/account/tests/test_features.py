"""Feature switches: the one read (alone and inside the chat doors' lookup), the one write and its
journal, the admin pages that call it, and the copy of django-waffle's switches."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test import Client

from smarter.apps.account.features import CUSTOM_DOMAINS, FEATURES, OPENAI_COMPATIBLE_ENDPOINT
from smarter.apps.account.features.selectors import feature_enabled
from smarter.apps.account.features.services import feature_switch_set
from smarter.apps.account.models import AccountFeatureSwitch, FeatureSwitch, JournalEntry
from smarter.apps.account.tests.factories import Persona, make_account
from smarter.apps.chatbot import services as chatbot_services
from smarter.apps.chatbot.door_lookup import door_lookup
from smarter.lib.errors import ValidationFailed

pytestmark = pytest.mark.django_db

STATES = (None, True, False)  # None: no such switch


def _counts() -> tuple[int, int, int]:
    return FeatureSwitch.objects.count(), AccountFeatureSwitch.objects.count(), JournalEntry.objects.count()


def _door_says(persona: Persona, feature: str) -> bool:
    found = door_lookup(api_key=persona.key, chatbot_name="support", feature=feature)
    assert found is not None and found.chatbot is not None
    return found.feature_on


def test_features_are_on_by_default_and_a_global_switch_turns_them_off(owner: Persona) -> None:
    assert feature_enabled(account=owner.account, feature=CUSTOM_DOMAINS)
    feature_switch_set(feature=CUSTOM_DOMAINS, active=False)
    feature_switch_set(feature=CUSTOM_DOMAINS, account=owner.account, active=True)
    other = make_account("Initech")
    assert feature_enabled(account=owner.account, feature=CUSTOM_DOMAINS)
    assert not feature_enabled(account=other, feature=CUSTOM_DOMAINS)


@pytest.mark.parametrize("feature", FEATURES)
@pytest.mark.parametrize("global_state", STATES)
@pytest.mark.parametrize("own_state", STATES)
def test_the_accounts_own_switch_then_the_features_switch_then_on_decide_alike_in_both_reads(
    owner: Persona,
    teammate: Persona,
    outsider: Persona,
    feature: str,
    global_state: bool | None,
    own_state: bool | None,
) -> None:
    for persona in (owner, outsider):
        chatbot_services.chatbot_create(account=persona.account, name="support", plugins=[])
    if global_state is not None:
        feature_switch_set(feature=feature, active=global_state)
    if own_state is not None:
        feature_switch_set(feature=feature, account=owner.account, active=own_state)
    expected_acme = own_state if own_state is not None else (global_state if global_state is not None else True)
    expected_globex = global_state if global_state is not None else True

    for persona in (owner, teammate):  # the switch is the account's: every member sees it
        assert feature_enabled(account=persona.account, feature=feature) is expected_acme
        assert _door_says(persona, feature) is expected_acme
    # Acme's own switch never reaches another tenant.
    assert feature_enabled(account=outsider.account, feature=feature) is expected_globex
    assert _door_says(outsider, feature) is expected_globex
    # Nor does one feature's switch reach another feature.
    (other,) = [name for name in FEATURES if name != feature]
    assert feature_enabled(account=owner.account, feature=other) is True
    assert _door_says(owner, other) is True


def test_a_change_is_journaled_once_with_who_made_it_and_in_the_accounts_journal(owner: Persona) -> None:
    assert feature_switch_set(feature=CUSTOM_DOMAINS, account=owner.account, active=False, user=owner.user) is True
    assert feature_switch_set(feature=CUSTOM_DOMAINS, account=owner.account, active=False, user=owner.user) is False
    assert feature_switch_set(feature=CUSTOM_DOMAINS, active=False, user=owner.user) is True
    assert feature_switch_set(feature=CUSTOM_DOMAINS, account=owner.account, active=None, user=owner.user) is True
    assert feature_switch_set(feature=CUSTOM_DOMAINS, account=owner.account, active=None, user=owner.user) is False
    assert feature_switch_set(feature=CUSTOM_DOMAINS, active=None, user=owner.user) is True

    entries = list(
        JournalEntry.objects.order_by("id").values_list(
            "account_id", "user_id", "command", "kind", "name", "status_code"
        )
    )
    assert entries == [
        (owner.account.pk, owner.user.pk, "feature_off", "FeatureSwitch", CUSTOM_DOMAINS, 200),
        (None, owner.user.pk, "feature_off", "FeatureSwitch", CUSTOM_DOMAINS, 200),
        (owner.account.pk, owner.user.pk, "feature_default", "FeatureSwitch", CUSTOM_DOMAINS, 200),
        (None, owner.user.pk, "feature_default", "FeatureSwitch", CUSTOM_DOMAINS, 200),
    ]
    assert not AccountFeatureSwitch.objects.exists()
    assert FeatureSwitch.objects.get(feature=CUSTOM_DOMAINS).active is True
    assert feature_enabled(account=owner.account, feature=CUSTOM_DOMAINS)


@pytest.mark.parametrize(
    "feature",
    ["", "CUSTOM_DOMAINS", "custom_domains ", f"{CUSTOM_DOMAINS}:1234-5678-9012", "waffle", "custom-domains", "x" * 65],
)
def test_an_unknown_feature_is_refused_and_nothing_is_written(owner: Persona, feature: str) -> None:
    before = _counts()
    for account in (None, owner.account):
        with pytest.raises(ValidationFailed) as refused:
            feature_switch_set(feature=feature, account=account, active=False, user=owner.user)
        assert [(error.loc, error.msg) for error in refused.value.errors] == [
            ("feature", f"must be one of {', '.join(FEATURES)}")
        ]
    assert _counts() == before


# --- the admin pages --------------------------------------------------------------------------------
def _operator(persona: Persona) -> Client:
    persona.user.is_staff = persona.user.is_superuser = True
    persona.user.save()
    client = Client()
    client.force_login(persona.user)
    return client


def _form(active: bool, rows: list[dict[str, Any]], initial: int = 0) -> dict[str, Any]:
    form: dict[str, Any] = {
        "accounts-TOTAL_FORMS": str(len(rows)),
        "accounts-INITIAL_FORMS": str(initial),
        "accounts-MIN_NUM_FORMS": "0",
        "accounts-MAX_NUM_FORMS": "1000",
    }
    if active:
        form["active"] = "on"
    for index, row in enumerate(rows):
        for field, value in row.items():
            if value is True:
                form[f"accounts-{index}-{field}"] = "on"
            elif value is not False:
                form[f"accounts-{index}-{field}"] = str(value)
    return form


def test_the_operator_lists_and_opens_the_switches_in_the_admin(owner: Persona) -> None:
    feature_switch_set(feature=CUSTOM_DOMAINS, account=owner.account, active=False)
    client = _operator(owner)
    assert ">Feature switches<" in client.get("/admin/").content.decode()  # as the docs name the page
    listing = client.get("/admin/account/featureswitch/")
    assert listing.status_code == 200
    assert f'<td class="field-name">{CUSTOM_DOMAINS}</td>' in listing.content.decode()
    page = client.get(f"/admin/account/featureswitch/{CUSTOM_DOMAINS}/change/")
    assert page.status_code == 200
    assert "accounts-TOTAL_FORMS" in page.content.decode()
    assert client.get("/admin/account/featureswitch/add/").status_code == 200


def test_the_operator_switches_a_feature_off_and_back_on_for_one_account_in_the_admin(
    owner: Persona, outsider: Persona
) -> None:
    client = _operator(owner)
    url = f"/admin/account/featureswitch/{OPENAI_COMPATIBLE_ENDPOINT}/change/"
    feature_switch_set(feature=OPENAI_COMPATIBLE_ENDPOINT, active=True)

    # Off for every account, back on for Globex.
    row = {"account": outsider.account.pk, "active": True, "switch": OPENAI_COMPATIBLE_ENDPOINT}
    response = client.post(url, _form(active=False, rows=[row]))
    assert response.status_code == 302, response.content[:2000]
    assert not feature_enabled(account=owner.account, feature=OPENAI_COMPATIBLE_ENDPOINT)
    assert feature_enabled(account=outsider.account, feature=OPENAI_COMPATIBLE_ENDPOINT)
    own = AccountFeatureSwitch.objects.get()
    assert JournalEntry.objects.filter(user=owner.user, kind="FeatureSwitch").count() == 2

    # The same row moved to Acme: Globex follows the feature's switch again.
    moved = {**row, "id": own.pk, "account": owner.account.pk}
    response = client.post(url, _form(active=False, rows=[moved], initial=1))
    assert response.status_code == 302, response.content[:2000]
    assert list(AccountFeatureSwitch.objects.values_list("account_id", "active")) == [(owner.account.pk, True)]
    assert not feature_enabled(account=outsider.account, feature=OPENAI_COMPATIBLE_ENDPOINT)
    assert feature_enabled(account=owner.account, feature=OPENAI_COMPATIBLE_ENDPOINT)

    # Deleted: Acme follows the feature's switch too.
    deleted = {**moved, "id": AccountFeatureSwitch.objects.get().pk, "DELETE": True}
    response = client.post(url, _form(active=False, rows=[deleted], initial=1))
    assert response.status_code == 302, response.content[:2000]
    assert not AccountFeatureSwitch.objects.exists()
    assert not feature_enabled(account=owner.account, feature=OPENAI_COMPATIBLE_ENDPOINT)
    commands = list(JournalEntry.objects.order_by("id").values_list("account_id", "command"))
    assert commands == [
        (None, "feature_off"),
        (outsider.account.pk, "feature_on"),
        (outsider.account.pk, "feature_default"),
        (owner.account.pk, "feature_on"),
        (owner.account.pk, "feature_default"),
    ]


def test_the_operator_adds_the_switch_of_a_feature_that_has_none_in_the_admin(owner: Persona) -> None:
    client = _operator(owner)
    form = {**_form(active=False, rows=[]), "feature": CUSTOM_DOMAINS}
    response = client.post("/admin/account/featureswitch/add/", form)
    assert response.status_code == 302, response.content[:2000]
    assert list(FeatureSwitch.objects.values_list("feature", "active")) == [(CUSTOM_DOMAINS, False)]
    assert JournalEntry.objects.get().command == "feature_off"
    assert not feature_enabled(account=owner.account, feature=CUSTOM_DOMAINS)


@pytest.mark.parametrize("who", ["owner", "teammate", "outsider"])
def test_nobody_but_the_platform_operator_opens_or_changes_switches(
    request: pytest.FixtureRequest, who: str, owner: Persona
) -> None:
    persona: Persona = request.getfixturevalue(who)
    feature_switch_set(feature=CUSTOM_DOMAINS, active=True)
    before = _counts()
    client = Client()
    client.force_login(persona.user)  # an account admin is not the platform's operator
    url = f"/admin/account/featureswitch/{CUSTOM_DOMAINS}/change/"
    assert client.get(url).status_code == 302
    row = {"account": persona.account.pk, "active": False, "switch": CUSTOM_DOMAINS}
    response = client.post(url, _form(active=False, rows=[row]))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert _counts() == before
    assert feature_enabled(account=persona.account, feature=CUSTOM_DOMAINS)


# --- the copy of django-waffle's switches -----------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_waffles_switches_are_copied_into_the_platforms_own() -> None:
    acme, globex = make_account("Acme"), make_account("Globex")
    copy = importlib.import_module("smarter.apps.account.migrations.0006_feature_switches_from_waffle")
    rows = [
        (OPENAI_COMPATIBLE_ENDPOINT, False),
        (f"{OPENAI_COMPATIBLE_ENDPOINT}:{acme.account_number}", True),
        (f"{CUSTOM_DOMAINS}:{globex.account_number}", False),
        (f"{CUSTOM_DOMAINS}:0000-0000-0000", False),  # an account that is gone
        ("some_flag_of_waffle", False),  # not a feature the platform reads
    ]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE waffle_switch (id INTEGER PRIMARY KEY, name VARCHAR(100), active BOOL)")
        try:
            for index, (name, active) in enumerate(rows, start=1):
                cursor.execute(
                    "INSERT INTO waffle_switch (id, name, active) VALUES (%s, %s, %s)", [index, name, active]
                )
            copy.copy_waffle_switches(django_apps, _SchemaEditor())
        finally:
            cursor.execute("DROP TABLE waffle_switch")

    assert sorted(FeatureSwitch.objects.values_list("feature", "active")) == [
        (CUSTOM_DOMAINS, True),
        (OPENAI_COMPATIBLE_ENDPOINT, False),
    ]
    assert sorted(AccountFeatureSwitch.objects.values_list("switch_id", "account_id", "active")) == sorted(
        [(OPENAI_COMPATIBLE_ENDPOINT, acme.pk, True), (CUSTOM_DOMAINS, globex.pk, False)]
    )
    assert feature_enabled(account=acme, feature=OPENAI_COMPATIBLE_ENDPOINT)
    assert not feature_enabled(account=globex, feature=OPENAI_COMPATIBLE_ENDPOINT)
    assert not feature_enabled(account=globex, feature=CUSTOM_DOMAINS)
    assert feature_enabled(account=acme, feature=CUSTOM_DOMAINS)


def test_without_waffles_table_the_copy_does_nothing() -> None:
    copy = importlib.import_module("smarter.apps.account.migrations.0006_feature_switches_from_waffle")
    copy.copy_waffle_switches(django_apps, _SchemaEditor())
    assert _counts() == (0, 0, 0)


class _SchemaEditor:
    """What the copy reads of the migration's schema editor: its connection."""

    connection = connection


def test_the_documented_example_runs_as_written(owner: Persona) -> None:
    doc = (Path(__file__).resolve().parents[4] / "docs" / "billing.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Feature switches") :]
    (code,) = re.findall(r"```python\n(.*?)```", section[: section.index("\n## ", 3)], flags=re.DOTALL)
    lines = code.replace("1234-5678-9012", owner.account.account_number).splitlines()
    exec("\n".join(lines[:-1]), {})  # noqa: S102  (the documentation's own example)
    assert not feature_enabled(account=owner.account, feature=OPENAI_COMPATIBLE_ENDPOINT)
    assert JournalEntry.objects.get().command == "feature_off"
    exec("\n".join(lines), {})  # noqa: S102
    assert feature_enabled(account=owner.account, feature=OPENAI_COMPATIBLE_ENDPOINT)
    assert not AccountFeatureSwitch.objects.exists()
