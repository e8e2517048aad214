"""Console forms for every kind: create, edit and delete through the same broker as the API's
apply, errors at the fields their paths name, nothing written on error, a review before a
change that takes something away, tenancy and roles, and the journal."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client

from smarter.apps.account import services as account_services
from smarter.apps.account.models import JournalEntry
from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.models import Chatbot, Provider
from smarter.apps.dashboard.tests.helpers import CATALOGUE, apply, chatbot, signed_in
from smarter.apps.plugin.models import Plugin
from smarter.lib.manifests import broker_for

pytestmark = pytest.mark.django_db


def form_of(response: Any, **changes: Any) -> dict[str, Any]:
    """What the browser would post for the form on the page, with `changes` typed in (by path)."""
    data: dict[str, Any] = {}
    for bound in response.context["fields"]:
        if bound.disabled:
            continue
        spec = bound.field
        if spec.widget == "checkbox":
            data[spec.key] = ["false", "true"] if bound.value else ["false"]
        elif spec.widget == "checkboxes":
            data[spec.key] = ["", *bound.value]
        else:
            data[spec.key] = bound.value
    for path, value in changes.items():
        key = "name" if path == "metadata.name" else path
        if isinstance(value, bool):
            value = ["false", "true"] if value else ["false"]
        elif isinstance(value, list):
            value = ["", *value]
        data[key] = value
    return data


def create(client: Client, kind: str, **changes: Any) -> Any:
    url = f"/dashboard/manifests/{kind}/new/"
    return client.post(url, form_of(client.get(url), **changes))


def edit(client: Client, kind: str, name: str, **changes: Any) -> Any:
    url = f"/dashboard/manifests/{kind}/{name}/edit/"
    return client.post(url, form_of(client.get(url), **changes))


def field_errors(response: Any) -> dict[str, list[tuple[str, str]]]:
    return {
        bound.field.path: [(error.loc, error.msg) for error in bound.errors]
        for bound in response.context["fields"]
        if bound.errors
    }


def described(persona: Persona, kind: str, name: str) -> dict[str, Any]:
    from smarter.apps.account.selectors import caller_for_user

    caller = caller_for_user(persona.user, persona.account.pk)  # type: ignore[arg-type]
    return broker_for(kind).describe(caller, name)


def journal(persona: Persona) -> list[tuple[str, str, str, int, str]]:
    return list(
        JournalEntry.objects.filter(account=persona.account)
        .order_by("id")
        .values_list("command", "kind", "name", "status_code", "user__username")
    )


# --- chatbots ---------------------------------------------------------------------------------
def test_an_admin_creates_a_chatbot_from_the_form_with_plugins_chosen_from_the_account(owner: Persona) -> None:
    apply(owner, CATALOGUE)
    client = signed_in(owner)
    page = client.get("/dashboard/manifests/Chatbot/new/")
    assert page.status_code == 200
    plugins = next(bound for bound in page.context["fields"] if bound.field.path == "spec.plugins")
    assert plugins.choices == [("catalogue", "catalogue (static)", False)]
    providers = next(bound for bound in page.context["fields"] if bound.field.path == "spec.config.provider")
    assert [value for value, _, _ in providers.choices] == ["", "openai", "offline"]
    response = create(
        client,
        "Chatbot",
        **{
            "metadata.name": "kiosk",
            "spec.config.provider": "offline",
            "spec.config.defaultModel": "smarter-offline",
            "spec.config.defaultTemperature": "0.2",
            "spec.plugins": ["catalogue"],
            "spec.config.allowedOrigins": "https://www.example.com\nhttps://shop.example.com",
            "spec.config.deployed": True,
        },
    )
    assert (response.status_code, response["Location"]) == (302, "/dashboard/chatbots/kiosk/")
    kiosk = Chatbot.objects.get(name="kiosk")
    assert (kiosk.provider, kiosk.default_model, kiosk.default_temperature, kiosk.deployed) == (
        "offline",
        "smarter-offline",
        0.2,
        True,
    )
    assert [plugin.name for plugin in kiosk.plugins.all()] == ["catalogue"]
    assert kiosk.allowed_origins == ["https://www.example.com", "https://shop.example.com"]
    assert journal(owner) == [("apply", "Chatbot", "kiosk", 200, "owner")]


def test_a_bad_value_is_shown_at_its_field_with_its_path_and_nothing_is_stored(owner: Persona) -> None:
    client = signed_in(owner)
    response = create(client, "Chatbot", **{"metadata.name": "kiosk", "spec.config.defaultTemperature": "7"})
    assert response.status_code == 400
    assert field_errors(response) == {
        "spec.config.defaultTemperature": [
            ("spec.config.defaultTemperature", "Input should be less than or equal to 2")
        ]
    }
    html = response.content.decode()
    # At the field, linked to its input; and in the summary at the top, linked to the field.
    assert 'aria-describedby="e-f-spec-config-defaultTemperature' in html
    assert '<p class="field-error" id="e-f-spec-config-defaultTemperature">' in html
    assert (
        '<a href="#f-spec-config-defaultTemperature"><code class="loc">spec.config.defaultTemperature</code></a>'
        in html
    )
    assert 'value="7"' in html  # what was typed is kept
    assert not Chatbot.objects.exists()
    assert journal(owner) == [("apply", "Chatbot", "kiosk", 400, "owner")]


def test_a_plugin_not_in_the_account_is_refused_at_its_index_in_the_list(owner: Persona, outsider: Persona) -> None:
    apply(owner, CATALOGUE)
    apply(outsider, {**CATALOGUE, "metadata": {**CATALOGUE["metadata"], "name": "globex_prices"}})
    response = create(
        signed_in(owner), "Chatbot", **{"metadata.name": "kiosk", "spec.plugins": ["catalogue", "globex_prices"]}
    )
    assert response.status_code == 400
    assert field_errors(response) == {
        "spec.plugins": [("spec.plugins[1]", "no plugin named 'globex_prices' in your account")]
    }
    assert not Chatbot.objects.exists()


def test_a_name_taken_is_refused_at_the_name_field_and_the_existing_chatbot_is_untouched(owner: Persona) -> None:
    apply(owner, chatbot("shop", appName="Gizmo Shop"))
    response = create(signed_in(owner), "Chatbot", **{"metadata.name": "shop", "spec.config.appName": "Other"})
    assert response.status_code == 400
    assert field_errors(response) == {"metadata.name": [("metadata.name", "a Chatbot named 'shop' already exists")]}
    assert Chatbot.objects.get(name="shop").app_name == "Gizmo Shop"


def test_fields_the_form_does_not_show_survive_an_edit(owner: Persona) -> None:
    apply(
        owner,
        chatbot("shop", appPlaceholder="Ask about Gizmos…", appInfoUrl="https://example.com/about", appAssistant="Sam"),
    )
    response = edit(signed_in(owner), "Chatbot", "shop", **{"spec.config.defaultTemperature": "1.5"})
    assert response.status_code == 302
    config = described(owner, "Chatbot", "shop")["spec"]["config"]
    assert (config["defaultTemperature"], config["appPlaceholder"], config["appInfoUrl"], config["appAssistant"]) == (
        1.5,
        "Ask about Gizmos…",
        "https://example.com/about",
        "Sam",
    )
    assert config["defaultSystemRole"] == "You are the Gizmo shop assistant."


def test_dropping_a_plugin_is_reviewed_first_cancel_changes_nothing_and_confirming_applies(owner: Persona) -> None:
    apply(owner, CATALOGUE)
    apply(owner, chatbot("shop", plugins=["catalogue"], deployed=True))
    client = signed_in(owner)
    review = edit(client, "Chatbot", "shop", **{"spec.plugins": [], "spec.config.deployed": False})
    assert review.status_code == 200
    assert review.context["preview"].warnings == [
        "spec.config.deployed: true → false: it is taken offline",
        "spec.plugins: catalogue removed",
    ]
    html = review.content.decode()
    assert "-  - catalogue" in html and "+    deployed: false" in html
    assert 'href="/dashboard/manifests/Chatbot/shop/edit/" id="confirm-cancel"' in html
    shop = Chatbot.objects.get(name="shop")
    assert (shop.deployed, [plugin.name for plugin in shop.plugins.all()]) == (True, ["catalogue"])
    # Cancel is a link back to the form: nothing is posted, nothing changes.
    assert client.get("/dashboard/manifests/Chatbot/shop/edit/").status_code == 200
    confirmed = client.post(
        "/dashboard/manifests/Chatbot/shop/edit/",
        {"manifest": review.context["manifest_text"], "confirmed": "yes"},
    )
    assert (confirmed.status_code, confirmed["Location"]) == (302, "/dashboard/chatbots/shop/")
    shop.refresh_from_db()
    assert (shop.deployed, list(shop.plugins.all())) == (False, [])
    assert journal(owner) == [("diff", "Chatbot", "shop", 200, "owner"), ("apply", "Chatbot", "shop", 200, "owner")]


def test_an_edit_that_takes_nothing_away_is_saved_at_once(owner: Persona) -> None:
    apply(owner, CATALOGUE)
    apply(owner, chatbot("shop"))
    response = edit(signed_in(owner), "Chatbot", "shop", **{"spec.plugins": ["catalogue"]})
    assert response.status_code == 302
    assert [plugin.name for plugin in Chatbot.objects.get(name="shop").plugins.all()] == ["catalogue"]


def test_a_member_edits_a_chatbot_but_not_its_deployment_domain_key_or_origins(
    owner: Persona, teammate: Persona
) -> None:
    apply(owner, chatbot("shop", allowedOrigins=["https://www.example.com"]))
    client = signed_in(teammate)
    page = client.get("/dashboard/manifests/Chatbot/shop/edit/")
    disabled = sorted(bound.field.path for bound in page.context["fields"] if bound.disabled)
    assert disabled == [
        "metadata.name",
        "spec.apiKey",
        "spec.config.allowedOrigins",
        "spec.config.customDomain",
        "spec.config.deployed",
    ]
    # A forged post of the admin's fields changes nothing of them; the rest is saved.
    data = form_of(page, **{"spec.config.appName": "Gizmo Shop"})
    data["spec.config.deployed"] = ["false", "true"]
    data["spec.config.allowedOrigins"] = ""
    response = client.post("/dashboard/manifests/Chatbot/shop/edit/", data)
    assert response.status_code == 302
    shop = Chatbot.objects.get(name="shop")
    assert (shop.app_name, shop.deployed, shop.allowed_origins) == ("Gizmo Shop", False, ["https://www.example.com"])


def test_a_member_may_not_delete_a_deployed_chatbot(owner: Persona, teammate: Persona) -> None:
    apply(owner, chatbot("shop", deployed=True))
    response = signed_in(teammate).post("/dashboard/manifests/Chatbot/shop/delete/")
    assert response.status_code == 403
    assert "Only an account admin may delete a deployed chatbot." in response.content.decode()
    assert Chatbot.objects.filter(name="shop").exists()
    assert journal(owner) == [("delete", "Chatbot", "shop", 403, "teammate")]


def test_a_delete_shows_what_goes_then_deletes_through_the_broker(owner: Persona) -> None:
    apply(owner, chatbot("shop"))
    client = signed_in(owner)
    page = client.get("/dashboard/manifests/Chatbot/shop/delete/")
    assert page.status_code == 200
    assert yaml.safe_load(page.context["manifest_text"])["metadata"]["name"] == "shop"
    assert 'href="/dashboard/chatbots/shop/" id="cancel-delete"' in page.content.decode()
    assert Chatbot.objects.filter(name="shop").exists()  # a GET deletes nothing
    response = client.post("/dashboard/manifests/Chatbot/shop/delete/")
    assert (response.status_code, response["Location"]) == (302, "/dashboard/")
    assert not Chatbot.objects.filter(name="shop").exists()
    assert journal(owner) == [("delete", "Chatbot", "shop", 200, "owner")]


# --- tenancy on every route -------------------------------------------------------------------
ROUTES = ("edit", "delete", "manifest")


@pytest.mark.parametrize("route", ROUTES)
def test_another_accounts_resource_is_not_found_on_every_route(owner: Persona, outsider: Persona, route: str) -> None:
    apply(owner, chatbot("shop"))
    client = signed_in(outsider)
    url = f"/dashboard/manifests/Chatbot/shop/{route}/"
    assert client.get(url).status_code == 404
    if route != "manifest":
        assert client.post(url, {"name": "shop", "spec.config.appName": "Pwned"}).status_code == 404
    assert Chatbot.objects.get(name="shop").app_name == ""


@pytest.mark.parametrize("route", ["new/", "shop/edit/", "shop/delete/", "shop/manifest/"])
def test_the_owner_and_a_teammate_open_every_route(owner: Persona, teammate: Persona, route: str) -> None:
    apply(owner, chatbot("shop"))
    for persona in (owner, teammate):
        assert signed_in(persona).get(f"/dashboard/manifests/Chatbot/{route}").status_code == 200


def test_an_unknown_kind_or_one_without_a_form_is_not_found(owner: Persona) -> None:
    client = signed_in(owner)
    assert client.get("/dashboard/manifests/Gadget/new/").status_code == 404
    assert client.get("/dashboard/manifests/chatbot/new/").status_code == 404  # the kind as manifests spell it
    assert client.get("/dashboard/manifests/Secret/new/").status_code == 404  # Secrets have their own page
    assert client.get("/dashboard/manifests/Gadget/shop/manifest/").status_code == 404
    assert client.get("/dashboard/apply/?kind=Gadget&name=shop").status_code == 404


def test_a_member_is_refused_the_forms_of_a_kind_only_admins_write(owner: Persona, teammate: Persona) -> None:
    client = signed_in(teammate)
    assert client.get("/dashboard/manifests/Provider/new/").status_code == 403
    data = {
        "name": "groq",
        "spec.provider.baseUrl": "https://api.groq.com/openai/v1",
        "spec.provider.defaultModel": "m",
    }
    assert client.post("/dashboard/manifests/Provider/new/", data).status_code == 403
    assert not Provider.objects.exists()
    assert journal(owner) == [("apply", "Provider", "groq", 403, "teammate")]


def test_anonymous_visitors_are_sent_to_sign_in() -> None:
    response = Client().get("/dashboard/manifests/Chatbot/new/")
    assert response["Location"] == "/login/?next=/dashboard/manifests/Chatbot/new/"


# --- the manifest -----------------------------------------------------------------------------
def test_the_manifest_is_shown_downloadable_and_opens_in_apply(owner: Persona) -> None:
    apply(owner, chatbot("shop", appName="Gizmo Shop"))
    client = signed_in(owner)
    page = client.get("/dashboard/manifests/Chatbot/shop/manifest/")
    shown = yaml.safe_load(page.context["manifest_text"])
    assert shown == described(owner, "Chatbot", "shop")
    assert 'href="/dashboard/apply/?kind=Chatbot&amp;name=shop" id="open-in-apply"' in page.content.decode()
    download = client.get("/dashboard/manifests/Chatbot/shop/manifest/?download=1")
    assert download["Content-Disposition"] == 'attachment; filename="Chatbot-shop.yaml"'
    assert download["Content-Type"] == "application/yaml; charset=utf-8"
    assert yaml.safe_load(download.content) == shown
    prefilled = client.get("/dashboard/apply/?kind=Chatbot&name=shop")
    assert yaml.safe_load(prefilled.context["text"]) == {key: value for key, value in shown.items() if key != "status"}


# --- every other kind -------------------------------------------------------------------------
@pytest.fixture
def courses(smarter_settings: Any, tmp_path: Path, owner: Persona) -> Path:
    root = tmp_path / "plugin-data"
    smarter_settings.plugin_data_dir = str(root)
    folder = root / owner.account.account_number
    folder.mkdir(parents=True)
    database = sqlite3.connect(folder / "courses.sqlite3")
    database.execute("CREATE TABLE courses (id INTEGER PRIMARY KEY, title TEXT, cost INTEGER)")
    database.executemany("INSERT INTO courses VALUES (?, ?, ?)", [(1, "Python", 300), (2, "SQL", 200)])
    database.commit()
    database.close()
    return folder / "courses.sqlite3"


def test_every_kind_is_created_edited_and_deleted_through_its_form(owner: Persona, courses: Path) -> None:
    client = signed_in(owner)
    account_services.secret_create(account=owner.account, name="groq_key", value="gsk-1")
    steps: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
        (
            "Provider",
            "groq",
            {
                "spec.provider.baseUrl": "https://api.groq.com/openai/v1",
                "spec.provider.apiKey": "groq_key",
                "spec.provider.defaultModel": "llama-3.1-8b-instant",
            },
            {"spec.provider.timeout": "30"},
        ),
        (
            "SqlConnection",
            "courses_db",
            {"spec.connection.dbEngine": "sqlite", "spec.connection.database": "courses.sqlite3"},
            {"spec.connection.timeout": "5"},
        ),
        (
            "ApiConnection",
            "weather_api",
            {"spec.connection.baseUrl": "https://api.weather.example.com/v1"},
            {"spec.connection.timeout": "3"},
        ),
        ("KnowledgeBase", "handbook", {}, {"spec.retrieval.topK": "8"}),
        (
            "Plugin",
            "hours",
            {"spec.data.description": "Opening hours", "spec.data.staticData": '{"weekdays": "9-5"}'},
            {"spec.selector.directive": "search_terms", "spec.selector.searchTerms": "hours\nopen"},
        ),
        (
            "SqlPlugin",
            "course_prices",
            {
                "spec.connection": "courses_db",
                "spec.sqlData.description": "Course prices",
                "spec.sqlData.sqlQuery": "SELECT title, cost FROM courses",
            },
            {"spec.sqlData.limit": "5"},
        ),
        (
            "ApiPlugin",
            "forecast",
            {
                "spec.connection": "weather_api",
                "spec.apiData.description": "Tomorrow's weather",
                "spec.apiData.endpoint": "/forecast",
            },
            {"spec.apiData.method": "POST"},
        ),
        (
            "KnowledgePlugin",
            "handbook_search",
            {"spec.knowledge.knowledgeBase": "handbook", "spec.knowledge.description": "The staff handbook"},
            {"spec.knowledge.topK": "3"},
        ),
        ("Chatbot", "desk", {"spec.plugins": ["hours", "course_prices"]}, {"spec.config.appName": "Front desk"}),
        ("TestSuite", "desk_golden", {"spec.chatbot": "desk"}, {"spec.threshold": "0.5"}),
        (
            "Channel",
            "desk_whatsapp",
            {"spec.chatbot": "desk", "spec.type": "whatsapp", "spec.config.phoneNumberId": "1234567890"},
            {"spec.limits.perMinute": "3"},
        ),
    ]
    for kind, name, created, edited in steps:
        response = create(client, kind, **{"metadata.name": name, **created})
        assert response.status_code == 302, (
            kind,
            response.context and response.context.get("problem"),
            response.context and field_errors(response),
        )
        response = edit(client, kind, name, **edited)
        assert response.status_code == 302, (kind, field_errors(response))
    read_back = {}
    for kind, name, _, edited in steps:
        for path in edited:
            node: Any = described(owner, kind, name)
            for part in path.split("."):
                node = node[part]
            read_back[kind, path] = node
    assert read_back == {
        ("Provider", "spec.provider.timeout"): 30,
        ("SqlConnection", "spec.connection.timeout"): 5.0,
        ("ApiConnection", "spec.connection.timeout"): 3.0,
        ("KnowledgeBase", "spec.retrieval.topK"): 8,
        ("Plugin", "spec.selector.directive"): "search_terms",
        ("Plugin", "spec.selector.searchTerms"): ["hours", "open"],
        ("SqlPlugin", "spec.sqlData.limit"): 5,
        ("ApiPlugin", "spec.apiData.method"): "POST",
        ("KnowledgePlugin", "spec.knowledge.topK"): 3,
        ("Chatbot", "spec.config.appName"): "Front desk",
        ("TestSuite", "spec.threshold"): 0.5,
        ("Channel", "spec.limits.perMinute"): 3,
    }
    for kind, name, _, _ in reversed(steps):
        assert client.post(f"/dashboard/manifests/{kind}/{name}/delete/").status_code == 302, kind
    assert not Plugin.objects.exists() and not Chatbot.objects.exists() and not Provider.objects.exists()
    commands = [(command, kind, name, status) for command, kind, name, status, _ in journal(owner)]
    assert commands == [
        *[(verb, kind, name, 200) for kind, name, _, _ in steps for verb in ("apply", "apply")],
        *[("delete", kind, name, 200) for kind, name, _, _ in reversed(steps)],
    ]


def test_a_sql_plugin_query_refused_by_the_guard_is_shown_at_the_query(owner: Persona, courses: Path) -> None:
    client = signed_in(owner)
    create(client, "SqlConnection", **{"metadata.name": "courses_db", "spec.connection.database": "courses.sqlite3"})
    response = create(
        client,
        "SqlPlugin",
        **{
            "metadata.name": "wipe",
            "spec.connection": "courses_db",
            "spec.sqlData.description": "x",
            "spec.sqlData.sqlQuery": "DELETE FROM courses",
        },
    )
    assert response.status_code == 400
    assert list(field_errors(response)) == ["spec.sqlData.sqlQuery"]
    assert not Plugin.objects.exists()


def test_bad_json_is_refused_at_its_field_before_anything_is_applied(owner: Persona) -> None:
    response = create(
        signed_in(owner),
        "Plugin",
        **{"metadata.name": "hours", "spec.data.description": "Hours", "spec.data.staticData": "{weekdays: 9-5"},
    )
    assert response.status_code == 400
    assert field_errors(response) == {
        "spec.data.staticData": [
            (
                "spec.data.staticData",
                "must be JSON: Expecting property name enclosed in double quotes at line 1, column 2",
            )
        ]
    }
    assert not Plugin.objects.exists()


def test_a_member_naming_a_secret_in_a_connection_is_refused_at_that_field(owner: Persona, teammate: Persona) -> None:
    account_services.secret_create(account=owner.account, name="api_token", value="t")
    response = create(
        signed_in(teammate),
        "ApiConnection",
        **{
            "metadata.name": "crm",
            "spec.connection.baseUrl": "https://crm.example.com",
            "spec.connection.authMethod": "token",
            "spec.connection.apiKey": "api_token",
        },
    )
    assert response.status_code == 403
    assert field_errors(response) == {
        "spec.connection.apiKey": [("spec.connection.apiKey", "only an account admin may name a Secret")]
    }
    assert not broker_for("ApiConnection").list_items(_caller(owner))


def test_a_channel_keeps_only_the_fields_of_its_type(owner: Persona) -> None:
    apply(owner, chatbot("desk"))
    client = signed_in(owner)
    response = create(
        client,
        "Channel",
        **{
            "metadata.name": "sms",
            "spec.chatbot": "desk",
            "spec.type": "twilio",
            "spec.config.phoneNumberId": "123",
            "spec.config.accountSid": "AC" + "0" * 32,
            "spec.config.fromNumber": "+15551234567",
        },
    )
    assert response.status_code == 302
    assert described(owner, "Channel", "sms")["spec"]["config"] == {
        "accountSid": "AC" + "0" * 32,
        "fromNumber": "+15551234567",
        "apiBaseUrl": "https://api.twilio.com",
    }
    bad = create(
        client,
        "Channel",
        **{
            "metadata.name": "wa",
            "spec.chatbot": "desk",
            "spec.type": "whatsapp",
            "spec.config.phoneNumberId": "not-a-number",
        },
    )
    assert bad.status_code == 400
    assert list(field_errors(bad)) == ["spec.config.phoneNumberId"]


def test_the_providers_and_channels_lists_link_to_their_forms(owner: Persona, teammate: Persona) -> None:
    apply(owner, chatbot("desk"))
    client = signed_in(owner)
    create(
        client,
        "Provider",
        **{
            "metadata.name": "groq",
            "spec.provider.baseUrl": "https://api.groq.com/openai/v1",
            "spec.provider.defaultModel": "llama",
        },
    )
    page = client.get("/dashboard/providers/").content.decode()
    assert 'href="/dashboard/manifests/Provider/new/"' in page
    assert 'href="/dashboard/manifests/Provider/groq/edit/"' in page
    assert 'href="/dashboard/manifests/Provider/groq/delete/"' in page
    assert signed_in(teammate).get("/dashboard/channels/").status_code == 200
    assert 'href="/dashboard/manifests/Channel/new/"' in client.get("/dashboard/channels/").content.decode()


def test_the_list_and_detail_pages_link_to_new_edit_delete_and_the_manifest(owner: Persona) -> None:
    apply(owner, CATALOGUE)
    apply(owner, chatbot("shop", plugins=["catalogue"]))
    client = signed_in(owner)
    chatbots = client.get("/dashboard/").content.decode()
    for href in (
        "/dashboard/manifests/Chatbot/new/",
        "/dashboard/manifests/Chatbot/shop/edit/",
        "/dashboard/manifests/Chatbot/shop/delete/",
        "/dashboard/manifests/Chatbot/shop/manifest/",
    ):
        assert f'href="{href}"' in chatbots
    plugins = client.get("/dashboard/plugins/").content.decode()
    for href in (
        "/dashboard/manifests/SqlPlugin/new/",
        "/dashboard/manifests/KnowledgePlugin/new/",
        "/dashboard/manifests/Plugin/catalogue/edit/",
    ):
        assert f'href="{href}"' in plugins
    form = client.get("/dashboard/manifests/Plugin/catalogue/edit/").content.decode()
    assert 'href="/dashboard/plugins/catalogue/#plugin-test" id="open-test"' in form
    assert 'href="/dashboard/manifests/SqlConnection/new/"' in client.get("/dashboard/connections/").content.decode()
    assert 'href="/dashboard/manifests/TestSuite/new/"' in client.get("/dashboard/evals/").content.decode()


def test_every_input_of_every_form_has_a_label(owner: Persona) -> None:
    import re

    from smarter.apps.dashboard.forms import FORMS

    client = signed_in(owner)
    for kind in FORMS:
        html = client.get(f"/dashboard/manifests/{kind}/new/").content.decode()
        form = html[html.index('id="resource-form"') :]
        ids = re.findall(r'<(?:input|select|textarea) id="([^"]+)"', form)
        assert ids, kind
        for element_id in ids:
            assert f'<label for="{element_id}"' in form or f'for="{element_id}"' in form, (kind, element_id)


def _caller(persona: Persona) -> Any:
    from smarter.apps.account.selectors import caller_for_user

    return caller_for_user(persona.user, persona.account.pk)  # type: ignore[arg-type]
