"""Publish / Embed: the widget's tag and the chatbot's URLs, and a site added to its allowed
origins as `smarter apply` would add it (previewed, journaled, admins only)."""

from __future__ import annotations

import html

import pytest

from smarter.apps.account.models import JournalEntry
from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.dashboard.tests.helpers import apply, chatbot, shop, signed_in

pytestmark = pytest.mark.django_db

SITE = "https://www.acme.test"


def origins() -> list[str]:
    return list(Chatbot.objects.get(name="shop").allowed_origins)


def journal(persona: Persona) -> list[tuple[str, str, str, int, str]]:
    return list(
        JournalEntry.objects.filter(account=persona.account)
        .order_by("id")
        .values_list("command", "kind", "name", "status_code", "user__username")
    )


def test_the_page_shows_the_one_tag_to_copy_and_the_chatbots_urls(owner: Persona, smarter_settings: object) -> None:
    shop(owner)
    host = f"shop.{owner.account.account_number}.api.{smarter_settings.root_domain}"  # type: ignore[attr-defined]
    response = signed_in(owner).get("/dashboard/chatbots/shop/embed/")
    assert response.status_code == 200
    base = response.context["urls"][0][1]
    assert base.startswith(f"http://{host}")
    assert response.context["snippet"] == f'<script src="{base}widget.js" async></script>'
    assert html.escape(response.context["snippet"]) in response.content.decode()
    assert [label for label, _ in response.context["urls"]] == ["Chat page", "Widget script", "Chat endpoint"]
    assert "This chatbot is not deployed yet" in response.content.decode()


def test_the_chatbot_page_carries_the_dialog_and_a_link_that_works_without_script(owner: Persona) -> None:
    shop(owner)
    content = signed_in(owner).get("/dashboard/chatbots/shop/").content.decode()
    assert 'href="/dashboard/chatbots/shop/embed/" data-dialog="embed-dialog"' in content
    assert '<dialog id="embed-dialog"' in content
    assert 'id="embed-snippet"' in content


def test_an_admin_previews_the_change_then_adds_the_site(owner: Persona) -> None:
    shop(owner)
    client = signed_in(owner)
    preview = client.post("/dashboard/chatbots/shop/embed/preview/", {"origin": SITE + "/shop/checkout?step=2"})
    assert preview.status_code == 200
    assert preview.context["origin"] == SITE  # a page's URL is taken for its site
    diff = preview.context["preview"].diff
    assert "-    allowedOrigins: []\n" in diff and f"+    - {SITE}\n" in diff
    assert origins() == []  # a preview writes nothing

    added = client.post("/dashboard/chatbots/shop/embed/", {"origin": SITE})
    assert (added.status_code, added["Location"]) == (302, f"/dashboard/chatbots/shop/embed/?added={SITE}")
    assert origins() == [SITE]
    page = client.get(added["Location"])
    assert page.context["added"] == SITE
    assert page.context["allowed_origins"] == [SITE]
    assert journal(owner) == [("diff", "Chatbot", "shop", 200, "owner"), ("apply", "Chatbot", "shop", 200, "owner")]


def test_a_site_already_allowed_changes_nothing(owner: Persona) -> None:
    apply(owner, chatbot("shop", allowedOrigins=[SITE]))
    preview = signed_in(owner).post("/dashboard/chatbots/shop/embed/preview/", {"origin": SITE + "/"})
    assert (preview.status_code, preview.context["preview"].action, preview.context["preview"].diff) == (
        200,
        "unchanged",
        "",
    )
    assert origins() == [SITE]


@pytest.mark.parametrize("typed", ["not a site", "ftp://files.acme.test", "https://acme.test:99999"])
def test_an_address_that_is_no_origin_is_refused_on_its_field_and_nothing_changes(owner: Persona, typed: str) -> None:
    shop(owner)
    response = signed_in(owner).post("/dashboard/chatbots/shop/embed/", {"origin": typed})
    assert response.status_code == 400
    assert (
        response.context["origin_error"]
        == f"{typed.lower()!r} must be an origin: http(s)://host[:port], without a path"
    )
    assert 'aria-describedby="e-origin"' in response.content.decode()
    assert origins() == []
    assert journal(owner) == [("apply", "Chatbot", "shop", 400, "owner")]


def test_a_teammate_sees_the_tag_but_may_not_add_a_site(owner: Persona, teammate: Persona) -> None:
    shop(owner)
    client = signed_in(teammate)
    page = client.get("/dashboard/chatbots/shop/embed/")
    assert page.status_code == 200
    assert 'id="origins-admin-only"' in page.content.decode() and 'id="origin-form"' not in page.content.decode()
    for path in ("/dashboard/chatbots/shop/embed/preview/", "/dashboard/chatbots/shop/embed/"):
        refused = client.post(path, {"origin": SITE})
        assert refused.status_code == 403
        assert "Only an account admin may change allowed_origins" in refused.content.decode()
    assert origins() == []
    assert journal(owner) == [
        ("diff", "Chatbot", "shop", 403, "teammate"),
        ("apply", "Chatbot", "shop", 403, "teammate"),
    ]


def test_another_accounts_chatbot_is_not_found(owner: Persona, outsider: Persona) -> None:
    shop(owner)
    client = signed_in(outsider)
    assert client.get("/dashboard/chatbots/shop/embed/").status_code == 404
    assert client.post("/dashboard/chatbots/shop/embed/", {"origin": SITE}).status_code == 404
    assert client.post("/dashboard/chatbots/shop/embed/preview/", {"origin": SITE}).status_code == 404
    assert origins() == []
