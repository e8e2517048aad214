"""The console's pages do what they say, through the same brokers and services as the API."""

from __future__ import annotations

import re
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from smarter.apps.account import services as account_services
from smarter.apps.account.billing import services as billing_services
from smarter.apps.account.credentials import SESSION_ACCOUNT_KEY
from smarter.apps.account.models import ApiKey, Membership, Role, Secret
from smarter.apps.account.pricing import token_cost
from smarter.apps.account.tests.factories import Persona, make_account
from smarter.apps.chatbot.models import Chatbot, ChatbotDomain
from smarter.apps.dashboard.tests.helpers import CATALOGUE, PASSWORD, apply, chatbot, shop, signed_in, with_password
from smarter.apps.plugin.models import Plugin
from smarter.lib.manifests import broker_for

pytestmark = pytest.mark.django_db


# --- signing in -------------------------------------------------------------------------------
def test_it_signs_in_with_a_password_and_lands_on_the_chatbots(owner: Persona) -> None:
    with_password(owner)
    client = Client()
    response = client.post("/login/", {"username": "owner", "password": PASSWORD, "next": "/dashboard/usage/"})
    assert (response.status_code, response["Location"]) == (302, "/dashboard/usage/")
    assert client.get("/dashboard/").status_code == 200


def test_a_wrong_password_is_refused(owner: Persona) -> None:
    with_password(owner)
    response = Client().post("/login/", {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_signing_out_takes_a_post_and_ends_the_session(owner: Persona) -> None:
    client = signed_in(owner)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert (response.status_code, response["Location"]) == (302, "/login/")
    assert client.get("/dashboard/")["Location"] == "/login/?next=/dashboard/"


def test_a_password_is_reset_through_the_emailed_link(owner: Persona, settings: Any) -> None:
    with_password(owner)
    response = Client().post("/password-reset/", {"email": "owner@example.test"})
    assert (response.status_code, response["Location"]) == (302, "/password-reset/sent/")
    assert [message.subject for message in mail.outbox] == ["Reset your Smarter password"]
    # The link names the configured platform host, not the request's ("testserver").
    platform = re.escape(settings.SMARTER.platform_host)
    link = re.search(rf"http://{platform}(/password-reset/[^/]+/[^/]+/)", str(mail.outbox[0].body))
    assert link is not None
    client = Client()
    form = client.get(link.group(1), follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "A-new-long-pass-42", "new_password2": "A-new-long-pass-42"}
    )
    assert (done.status_code, done["Location"]) == (302, "/password-reset/complete/")
    assert Client().login(username="owner", password="A-new-long-pass-42")


def test_a_user_without_an_account_is_told_so(db: Any) -> None:
    from django.contrib.auth.models import User

    client = Client()
    client.force_login(User.objects.create_user("drifter"))
    response = client.get("/dashboard/")
    assert response.status_code == 403
    assert b"Your user is not a member of any active account." in response.content


# --- the account switcher -------------------------------------------------------------------
def test_a_user_in_two_accounts_switches_and_the_rest_api_follows(owner: Persona) -> None:
    globex = make_account("Globex")
    Membership.objects.create(account=globex, user=owner.user, role=Role.MEMBER)  # type: ignore[misc]
    apply(owner, chatbot("acme_bot"))
    client = signed_in(owner)
    page = client.get("/dashboard/").content.decode()
    assert '<div class="account-name" id="account-name">Acme</div>' in page
    assert f'<option value="{globex.pk}">Globex</option>' in page

    response = client.post("/dashboard/account/", {"account": globex.pk, "next": "/dashboard/plugins/"})
    assert (response.status_code, response["Location"]) == (302, "/dashboard/plugins/")
    assert client.session[SESSION_ACCOUNT_KEY] == globex.pk
    assert '<div class="account-name" id="account-name">Globex</div>' in client.get("/dashboard/").content.decode()
    assert client.get("/dashboard/chatbots/acme_bot/").status_code == 404
    api = client.get("/api/v1/cli/get/chatbots/")
    assert api.status_code == 200 and api.json()["data"]["items"] == []


def test_switching_to_an_account_one_is_not_in_is_refused(owner: Persona, outsider: Persona) -> None:
    client = signed_in(owner)
    response = client.post("/dashboard/account/", {"account": outsider.account.pk})
    assert response.status_code == 404
    assert SESSION_ACCOUNT_KEY not in client.session


# --- chatbots -------------------------------------------------------------------------------
FORM = {
    "provider": "",
    "defaultModel": "",
    "defaultSystemRole": "You help with Gizmos.",
    "defaultTemperature": "0.2",
    "defaultMaxTokens": "512",
    "appName": "Gizmo Shop",
    "appAssistant": "Sam",
    "appWelcomeMessage": "Hi!",
    "appExamplePrompts": "What does it cost?\r\nWhich colours?\r\n",
    "appPlaceholder": "Ask…",
    "appInfoUrl": "https://example.com/about",
    "appLogoUrl": "",
    "appBackgroundImageUrl": "",
}


def test_the_chatbot_form_applies_through_the_broker(owner: Persona) -> None:
    shop(owner)
    response = signed_in(owner).post("/dashboard/chatbots/shop/", FORM)
    assert response.status_code == 200
    assert b'id="form-message">Saved.</div>' in response.content
    saved = Chatbot.objects.get(name="shop")
    assert (saved.default_temperature, saved.default_max_tokens, saved.app_assistant) == (0.2, 512, "Sam")
    assert saved.app_example_prompts == ["What does it cost?", "Which colours?"]
    assert [plugin.name for plugin in saved.plugins.all()] == ["catalogue"]
    again = signed_in(owner).post("/dashboard/chatbots/shop/", FORM)
    assert b'id="form-message">Nothing changed.</div>' in again.content


def test_the_chatbot_form_shows_the_apis_errors_at_their_fields_and_saves_nothing(teammate: Persona) -> None:
    shop(teammate)
    form = {**FORM, "defaultTemperature": "7", "defaultMaxTokens": "many", "appLogoUrl": "ftp://logo"}
    response = signed_in(teammate).post("/dashboard/chatbots/shop/", form)
    assert response.status_code == 400
    page = response.content.decode()
    assert '<p class="field-error" id="e-defaultTemperature">Input should be less than or equal to 2</p>' in page
    assert '<p class="field-error" id="e-defaultMaxTokens">Input should be a valid integer' in page
    assert (
        '<p class="field-error" id="e-appLogoUrl">only http and https URLs are accepted, not &#x27;ftp&#x27;</p>'
        in page
    )
    assert Chatbot.objects.get(name="shop").default_temperature == 0.5


def test_an_admin_deploys_and_undeploys(owner: Persona) -> None:
    shop(owner)
    client = signed_in(owner)
    assert client.post("/dashboard/chatbots/shop/deploy/")["Location"] == "/dashboard/chatbots/shop/"
    assert Chatbot.objects.get(name="shop").deployed is True
    assert b'id="undeploy"' in client.get("/dashboard/chatbots/shop/").content
    client.post("/dashboard/chatbots/shop/undeploy/")
    assert Chatbot.objects.get(name="shop").deployed is False


def test_the_chatbot_page_shows_the_custom_domain_as_describe_does(owner: Persona, smarter_settings: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        silent_port = probe.getsockname()[1]
    smarter_settings.dns_resolver = f"127.0.0.1:{silent_port}"  # nothing answers: not verified
    apply(owner, chatbot("shop", customDomain="chat.example.com"))
    page = signed_in(owner).get("/dashboard/chatbots/shop/").content.decode()
    claim = ChatbotDomain.objects.get(domain="chat.example.com")
    assert claim.status != "verified"
    assert f'<dd id="dns-status">{claim.get_status_display()}</dd>' in page
    assert (
        f'<dd class="mono small" id="dns-record">TXT _smarter-challenge.chat.example.com = "{claim.token}"</dd>' in page
    )


# --- plugins --------------------------------------------------------------------------------
def test_the_plugin_editor_applies_a_change(owner: Persona) -> None:
    apply(owner, CATALOGUE)
    client = signed_in(owner)
    text = client.get("/dashboard/plugins/catalogue/").context["editor"]["text"]
    response = client.post("/dashboard/plugins/catalogue/", {"manifest": text.replace("$12.50", "$9.99")})
    assert b'id="editor-message">Applied: updated.</div>' in response.content
    assert Plugin.objects.get(name="catalogue").data["staticData"]["price"] == "$9.99"


def test_the_plugin_editor_points_at_the_failing_field(owner: Persona) -> None:
    apply(owner, CATALOGUE)
    client = signed_in(owner)
    text = client.get("/dashboard/plugins/catalogue/").context["editor"]["text"]
    bad = text.replace("- gizmo", "- ''")
    response = client.post("/dashboard/plugins/catalogue/", {"manifest": bad})
    assert response.status_code == 400
    line = bad.splitlines().index("    - ''") + 1
    assert response.context["editor"]["errors"] == [
        {"loc": "spec.selector.searchTerms[0]", "msg": "String should have at least 1 character", "line": line}
    ]
    assert Plugin.objects.get(name="catalogue").selector["searchTerms"] == ["gizmo"]


def test_the_plugin_editor_does_not_rename_or_create(owner: Persona) -> None:
    apply(owner, CATALOGUE)
    client = signed_in(owner)
    text = client.get("/dashboard/plugins/catalogue/").context["editor"]["text"]
    response = client.post(
        "/dashboard/plugins/catalogue/", {"manifest": text.replace("name: catalogue", "name: other")}
    )
    assert response.context["editor"]["errors"] == [{"loc": "metadata.name", "msg": "must be catalogue", "line": 4}]
    assert list(Plugin.objects.values_list("name", flat=True)) == ["catalogue"]


def test_a_static_plugin_is_tested_with_arguments(owner: Persona) -> None:
    apply(owner, CATALOGUE)
    response = signed_in(owner).post("/dashboard/plugins/catalogue/test/", {"arguments": '{"inquiry_type": "colours"}'})
    test = response.context["test"]
    assert (test["result"], test["error"], test["executed"]) == (
        '[\n  "red",\n  "teal"\n]',
        None,
        {"inquiry_type": "colours"},
    )
    assert test["ms"] >= 0


def test_a_sql_plugin_test_shows_the_statement_as_executed(
    owner: Persona, smarter_settings: Any, tmp_path: Path
) -> None:
    smarter_settings.plugin_data_dir = str(tmp_path)
    (tmp_path / owner.account.account_number).mkdir()
    with sqlite3.connect(tmp_path / owner.account.account_number / "course_catalogue.sqlite3") as database:
        database.execute("CREATE TABLE courses (title TEXT, description TEXT, cost REAL)")
        database.execute("INSERT INTO courses VALUES ('Intro to AI', 'AI basics', 250)")
    apply(owner, broker_for("SqlConnection").example())
    apply(owner, broker_for("SqlPlugin").example())
    client = signed_in(owner)
    assert client.get("/dashboard/plugins/course_catalogue/").context["arguments"] == (
        '{\n  "topic": "AI",\n  "max_cost": 500\n}'
    )
    response = client.post(
        "/dashboard/plugins/course_catalogue/test/", {"arguments": '{"topic": "AI", "max_cost": 500}'}
    )
    test = response.context["test"]
    assert test["error"] is None
    assert test["executed"]["parameters"] == ["AI", "AI", 500, 500]
    page = response.content.decode()
    assert "SELECT title, description, cost FROM courses" in page
    assert "Intro to AI" in test["result"]


def test_a_connections_status_reads_as_words(owner: Persona, smarter_settings: Any, tmp_path: Path) -> None:
    smarter_settings.plugin_data_dir = str(tmp_path)
    (tmp_path / owner.account.account_number).mkdir()
    sqlite3.connect(tmp_path / owner.account.account_number / "course_catalogue.sqlite3").close()
    apply(owner, broker_for("SqlConnection").example())
    apply(owner, broker_for("SqlPlugin").example())
    client = signed_in(owner)
    facts = re.findall(
        r"<dt>(\w+)</dt><dd>([^<]*)</dd>",
        client.get("/dashboard/connections/sql/course_catalogue_db/").content.decode(),
    )
    health = dict(facts)["health"]
    assert re.fullmatch(r"Reachable: SELECT 1 succeeded \([0-9.]+ ms\)", health), health
    assert dict(facts)["usedBy"] == "course_catalogue"
    plugin = client.get("/dashboard/plugins/course_catalogue/").content.decode()
    assert re.search(r"<dt>reachable</dt><dd>yes</dd>", plugin)
    for page in (health, plugin):
        assert "{&#x27;" not in page and "{'" not in page and "True<" not in page


def test_a_test_with_arguments_that_are_not_json_says_so(owner: Persona) -> None:
    apply(owner, CATALOGUE)
    response = signed_in(owner).post("/dashboard/plugins/catalogue/test/", {"arguments": "{nope"})
    assert response.context["test"]["invalid"].startswith(
        "The arguments field is not valid JSON: Expecting property name"
    )


# --- API keys, members, secrets, journal ----------------------------------------------------
def test_a_new_api_key_is_shown_once(owner: Persona) -> None:
    client = signed_in(owner)
    response = client.post("/dashboard/api-keys/", {"name": "ci_deploy", "description": "CI"})
    plaintext = response.context["issued"].plaintext
    assert f'value="{plaintext}"' in response.content.decode()
    assert ApiKey.objects.get(name="ci_deploy").prefix == plaintext.split("_")[1]
    assert plaintext not in client.get("/dashboard/api-keys/").content.decode()


def test_a_duplicate_key_name_is_explained(owner: Persona) -> None:
    response = signed_in(owner).post("/dashboard/api-keys/", {"name": "owner_key"})
    assert response.status_code == 409
    assert response.context["error"] == "An API key named 'owner_key' already exists."


def test_an_admin_revokes_a_key(owner: Persona, teammate: Persona) -> None:
    signed_in(owner).post("/dashboard/api-keys/teammate_key/revoke/")
    assert ApiKey.objects.get(name="teammate_key").revoked_at is not None


def test_a_member_sees_only_their_own_keys(owner: Persona, teammate: Persona) -> None:
    keys = signed_in(teammate).get("/dashboard/api-keys/").context["keys"]
    assert [key.name for key in keys] == ["teammate_key"]


def test_an_admin_adds_promotes_and_removes_a_member(owner: Persona) -> None:
    client = signed_in(owner)
    client.post("/dashboard/members/", {"username": "newbie", "email": "n@example.test", "role": "member"})
    assert Membership.objects.get(user__username="newbie").role == "member"
    client.post("/dashboard/members/newbie/", {"role": "admin"})
    assert Membership.objects.get(user__username="newbie").role == "admin"
    client.post("/dashboard/members/newbie/remove/")
    assert not Membership.objects.filter(user__username="newbie").exists()


def test_the_last_admin_cannot_leave(owner: Persona) -> None:
    response = signed_in(owner).post("/dashboard/members/owner/", {"role": "member"})
    assert response.status_code == 409
    assert response.context["error"] == "An account must keep at least one admin; make another member admin first."
    assert Membership.objects.get(user__username="owner").role == "admin"


def test_a_secret_value_is_never_shown_after_saving(owner: Persona) -> None:
    client = signed_in(owner)
    client.post("/dashboard/secrets/", {"name": "warehouse_password", "value": "hunter2-very-secret"})
    secret = Secret.objects.get(name="warehouse_password")
    assert account_services.secret_reveal(secret=secret) == "hunter2-very-secret"
    page = client.get("/dashboard/secrets/").content.decode()
    assert 'data-secret="warehouse_password"' in page and "hunter2-very-secret" not in page
    client.post("/dashboard/secrets/warehouse_password/", {"value": "rotated-value"})
    assert account_services.secret_reveal(secret=Secret.objects.get(name="warehouse_password")) == "rotated-value"
    client.post("/dashboard/secrets/warehouse_password/delete/")
    assert not Secret.objects.exists()


def test_a_secret_in_use_is_not_deleted(owner: Persona, smarter_settings: Any, tmp_path: Path) -> None:
    smarter_settings.plugin_data_dir = str(tmp_path)
    account_services.secret_create(account=owner.account, name="db_password", value="pw")
    connection = broker_for("SqlConnection").example()
    connection["spec"]["connection"]["password"] = "db_password"
    apply(owner, connection)
    response = signed_in(owner).post("/dashboard/secrets/db_password/delete/")
    assert response.status_code == 409
    assert response.context["error"] == (
        "Secret 'db_password' is in use by SqlConnection course_catalogue_db; change or delete those first."
    )


def test_the_journal_filters_by_command_kind_user_and_status(owner: Persona, teammate: Persona) -> None:
    for index, (user, command, kind, status) in enumerate(
        [(owner, "apply", "Chatbot", 200), (teammate, "apply", "Plugin", 400), (owner, "delete", "Plugin", 200)]
    ):
        account_services.journal_record(
            key=f"entry{index}",
            account=owner.account,
            user=user.user,  # type: ignore[arg-type]
            api_key=None,
            command=command,
            kind=kind,
            name=f"thing{index}",
            status_code=status,
            duration_ms=1.5,
            request_id="",
        )
    client = signed_in(owner)

    def names(query: str) -> list[str]:
        return [entry.name for entry in client.get(f"/dashboard/journal/?{query}").context["entries"]]

    assert names("") == ["thing2", "thing1", "thing0"]
    assert names("command=apply") == ["thing1", "thing0"]
    assert names("kind=plugin") == ["thing2", "thing1"]
    assert names("username=teammate") == ["thing1"]
    assert names("status=200&kind=Plugin") == ["thing2"]


# --- the drop zone --------------------------------------------------------------------------
BATCH = (
    "apiVersion: smarter.sh/v1\nkind: Chatbot\nmetadata:\n  name: kiosk\nspec:\n  plugins: [faq]\n---\n"
    "apiVersion: smarter.sh/v1\nkind: Plugin\nmetadata:\n  name: faq\nspec:\n  selector:\n    directive: always\n"
    "  data:\n    description: FAQ\n    staticData:\n      hours: 9-5\n"
)


def lines_of(response: Any) -> list[tuple[str, str, str, list[tuple[str, str]]]]:
    return [
        (line.kind, line.name, line.action or line.error, [(e.loc, e.msg) for e in line.errors])
        for line in response.context["lines"]
    ]


def test_dropped_files_are_applied_in_dependency_order(owner: Persona) -> None:
    client = signed_in(owner)
    upload = SimpleUploadedFile("bundle.yaml", BATCH.encode(), content_type="application/yaml")
    response = client.post("/dashboard/apply/", {"files": [upload]})
    assert lines_of(response) == [("Plugin", "faq", "created", []), ("Chatbot", "kiosk", "created", [])]
    again = client.post("/dashboard/apply/", {"manifests": BATCH})
    assert lines_of(again) == [("Plugin", "faq", "unchanged", []), ("Chatbot", "kiosk", "unchanged", [])]


def test_each_bad_manifest_gets_its_own_line(owner: Persona) -> None:
    text = BATCH + "---\nkind: Gadget\nmetadata: {name: x}\n---\nkind: Plugin\nmetadata: [oops\n"
    response = signed_in(owner).post("/dashboard/apply/", {"manifests": text})
    lines = lines_of(response)
    assert lines[:2] == [("Plugin", "faq", "created", []), ("Chatbot", "kiosk", "created", [])]
    gadget, broken = lines[2:]
    assert gadget[:2] == ("Gadget", "x") and gadget[2].startswith("Unknown kind 'Gadget'. Known kinds: Account,")
    assert [loc for loc, _ in gadget[3]] == ["kind"]
    assert broken[:2] == ("", "")
    assert (
        broken[2]
        == "The body is neither valid YAML nor JSON: expected ',' or ']', but got '<stream end>' at line 4, column 1."
    )
    assert len(lines) == 4


def test_an_empty_drop_is_explained(owner: Persona) -> None:
    response = signed_in(owner).post("/dashboard/apply/", {"manifests": "  "})
    assert response.status_code == 400
    assert response.context["problem"] == "Paste a manifest or choose files to apply."


def test_a_member_cannot_apply_admin_kinds_through_the_drop_zone(teammate: Persona) -> None:
    text = "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata:\n  name: s\nspec:\n  config:\n    value: v\n"
    response = signed_in(teammate).post("/dashboard/apply/", {"manifests": text})
    assert lines_of(response) == [("Secret", "s", "Only an account admin may change Secret resources.", [])]
    assert not Secret.objects.exists()


# --- usage ----------------------------------------------------------------------------------
def record_usage(persona: Persona, chatbot_name: str, model: str, prompt: int, completion: int, turn: int) -> None:
    event_id = billing_services.usage_event_record(
        account=persona.account,
        turn_id=turn,
        created_at=timezone.now(),
        user=None,
        api_key=None,
        chatbot_id=turn,
        chatbot_name=chatbot_name,
        session_key=f"s{turn}",
        channel="sandbox",
        provider="openai",
        model=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        tools=[],
    )
    billing_services.charges_record(usage_event_id=event_id)


def test_usage_shows_tokens_and_cost_per_chatbot_and_model_and_exports_csv(owner: Persona) -> None:
    record_usage(owner, "shop", "gpt-4o-mini", 1000, 500, 1)
    record_usage(owner, "kiosk", "gpt-4o-mini", 200, 100, 2)
    client = signed_in(owner)
    response = client.get("/dashboard/usage/?days=7")
    assert response.context["totals"].total_tokens == 1800
    assert [(row.key, row.total_tokens) for row in response.context["by_chatbot"]] == [("kiosk", 300), ("shop", 1500)]
    assert [(row.key, row.requests) for row in response.context["by_model"]] == [("gpt-4o-mini", 2)]
    assert [(row.key, row.requests) for row in response.context["by_channel"]] == [("sandbox", 2)]
    assert b'<td class="mono">sandbox</td><td class="num">2</td>' in response.content
    assert len(response.context["tokens_chart"].bars) == 7
    assert response.context["tokens_chart"].bars[-1].value == 1800
    cost = token_cost(model="gpt-4o-mini", prompt_tokens=1000, completion_tokens=500) + token_cost(
        model="gpt-4o-mini", prompt_tokens=200, completion_tokens=100
    )
    csv = client.get("/dashboard/usage.csv?days=7&group_by=chatbot")
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    rows = csv.content.decode().splitlines()
    assert rows[0] == "chatbot,requests,prompt_tokens,completion_tokens,total_tokens,cost_usd,thumbs_up,thumbs_down"
    assert rows[1:] == [
        f"kiosk,1,200,100,300,{token_cost(model='gpt-4o-mini', prompt_tokens=200, completion_tokens=100):.8f},0,0",
        f"shop,1,1000,500,1500,{token_cost(model='gpt-4o-mini', prompt_tokens=1000, completion_tokens=500):.8f},0,0",
    ]
    assert response.context["totals"].cost == cost


def test_usage_of_another_account_is_not_shown(owner: Persona, outsider: Persona) -> None:
    record_usage(outsider, "theirs", "gpt-4o-mini", 10, 10, 3)
    assert signed_in(owner).get("/dashboard/usage/").context["totals"].total_tokens == 0


PARTIAL_SHOP = "apiVersion: smarter.sh/v1\nkind: Chatbot\nmetadata: {name: shop}\n" + (
    "spec:\n  config:\n    allowedOrigins: ['https://www.example.com']\n"
)


def _live_shop(owner: Persona) -> Chatbot:
    apply(owner, CATALOGUE)
    apply(owner, chatbot("shop", plugins=["catalogue"], appName="Gizmo Shop", deployed=True))
    return Chatbot.objects.get(name="shop")


def _state(row: Chatbot) -> tuple[bool, list[str], list[str]]:
    row.refresh_from_db()
    return row.deployed, [plugin.name for plugin in row.plugins.all()], list(row.allowed_origins)


def test_a_partial_manifest_is_shown_with_what_it_takes_away_and_applied_only_once_confirmed(owner: Persona) -> None:
    row = _live_shop(owner)
    client = signed_in(owner)
    asked = client.post("/dashboard/apply/", {"manifests": PARTIAL_SHOP})
    assert asked.status_code == 200 and asked.context["asks"] is True and asked.context["lines"] is None
    [line] = asked.context["previews"]
    assert (line.kind, line.name, line.action) == ("Chatbot", "shop", "update")
    assert line.warnings[0] == "spec.config.deployed: true → false: it is taken offline"
    assert "spec.plugins: catalogue removed" in line.warnings
    page = asked.content.decode()
    assert 'id="apply-warning"' in page and "-    deployed: true" in page and 'id="apply-confirmed"' in page
    assert _state(row) == (True, ["catalogue"], [])  # nothing applied

    confirmed = client.post("/dashboard/apply/", {"manifests": PARTIAL_SHOP, "confirmed": "yes"})
    assert [(line.name, line.action) for line in confirmed.context["lines"]] == [("shop", "updated")]
    assert _state(row) == (False, [], ["https://www.example.com"])


def test_preview_shows_the_diff_of_every_manifest_and_changes_nothing(owner: Persona) -> None:
    row = _live_shop(owner)
    response = signed_in(owner).post(
        "/dashboard/apply/", {"manifests": PARTIAL_SHOP + "---\n" + BATCH, "preview": "yes"}
    )
    assert response.context["asks"] is False and response.context["lines"] is None
    previews = [(line.kind, line.name, line.action) for line in response.context["previews"]]
    assert previews == [("Plugin", "faq", "create"), ("Chatbot", "shop", "update"), ("Chatbot", "kiosk", "create")]
    assert _state(row) == (True, ["catalogue"], [])
    assert not Plugin.objects.filter(name="faq").exists() and not Chatbot.objects.filter(name="kiosk").exists()


def test_a_change_that_takes_nothing_away_is_applied_at_once(owner: Persona) -> None:
    _live_shop(owner)
    response = signed_in(owner).post("/dashboard/apply/", {"manifests": BATCH})
    assert response.context["previews"] is None
    assert lines_of(response) == [("Plugin", "faq", "created", []), ("Chatbot", "kiosk", "created", [])]


def test_every_console_change_is_in_the_journal_as_an_api_change_would_be(owner: Persona, teammate: Persona) -> None:
    from smarter.apps.account.models import JournalEntry

    shop(owner)
    client = signed_in(owner)
    client.post("/dashboard/chatbots/shop/", FORM)
    client.post("/dashboard/chatbots/shop/deploy/")
    client.post("/dashboard/secrets/", {"name": "warehouse_password", "value": "s3cret-value"})
    client.post("/dashboard/secrets/warehouse_password/", {"value": "rotated-value"})
    client.post("/dashboard/members/", {"username": "newbie", "email": "n@example.test", "role": "member"})
    client.post("/dashboard/members/newbie/", {"role": "admin"})
    client.post("/dashboard/members/newbie/remove/")
    client.post("/dashboard/apply/", {"manifests": BATCH})
    client.post("/dashboard/apply/", {"manifests": PARTIAL_SHOP})  # previewed and asked: nothing applied
    signed_in(teammate).post("/dashboard/chatbots/shop/undeploy/")  # refused: admins only
    client.post("/dashboard/secrets/warehouse_password/delete/")
    entries = list(
        JournalEntry.objects.filter(account=owner.account)
        .order_by("id")
        .values_list("command", "kind", "name", "status_code", "user__username", "api_key")
    )
    assert entries == [
        ("apply", "Chatbot", "shop", 200, "owner", None),
        ("deploy", "Chatbot", "shop", 200, "owner", None),
        ("create", "Secret", "warehouse_password", 200, "owner", None),
        ("update", "Secret", "warehouse_password", 200, "owner", None),
        ("create", "User", "newbie", 200, "owner", None),
        ("update", "User", "newbie", 200, "owner", None),
        ("delete", "User", "newbie", 200, "owner", None),
        ("apply", "Plugin", "faq", 200, "owner", None),
        ("apply", "Chatbot", "kiosk", 200, "owner", None),
        ("diff", "Chatbot", "shop", 200, "owner", None),
        ("undeploy", "Chatbot", "shop", 403, "teammate", None),
        ("delete", "Secret", "warehouse_password", 200, "owner", None),
    ]
    # What was sent is not in the journal: a secret's value never is.
    assert not JournalEntry.objects.filter(name__contains="s3cret").exists()
