"""Every URL and host a Chatbot or a Provider names, through `apply` with a real key: each spelling
of a loopback, private, link-local or metadata address answers 400 at its field and stores nothing;
what is accepted is stored in the normalised (ASCII) form the clients will use."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import APPLY, database_snapshot
from smarter.apps.chatbot.models import Chatbot, Provider
from smarter.testing import spellings
from smarter.testing.spellings import LOOPBACK_SPELLINGS, METADATA_SPELLINGS, PRIVATE_SPELLINGS, UNNORMALISABLE_HOSTS

pytestmark = pytest.mark.django_db

REFUSED_HOSTS = LOOPBACK_SPELLINGS + PRIVATE_SPELLINGS + METADATA_SPELLINGS


def ids(table: list[tuple[str, str, str]]) -> list[str]:
    return [f"{what}: {host.encode('unicode_escape').decode()}" for host, _reason, what in table]


@pytest.fixture
def strict(smarter_settings: Any) -> Any:
    smarter_settings.allow_private_hosts = False
    return smarter_settings


def provider(base_url: str, name: str = "own_llm") -> dict[str, Any]:
    return {
        "apiVersion": "smarter.sh/v1",
        "kind": "Provider",
        "metadata": {"name": name},
        "spec": {"provider": {"baseUrl": base_url, "defaultModel": "m"}},
    }


def chatbot(name: str = "support", **config: Any) -> dict[str, Any]:
    return {"apiVersion": "smarter.sh/v1", "kind": "Chatbot", "metadata": {"name": name}, "spec": {"config": config}}


def apply(persona: Persona, document: dict[str, Any]) -> Any:
    return persona.client.post(APPLY, data=document, format="json")


def refused_at(response: Any, loc: str) -> str:
    """The message of the one field error at `loc` of a 400 envelope."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["errorClass"] == "ValidationError" and body["status"] == 400
    assert [error["loc"] for error in body["errors"]] == [loc]
    return str(body["errors"][0]["msg"])


# --- Provider spec.provider.baseUrl: fetched by the server -----------------------------------------
@pytest.mark.parametrize(("host", "reason", "what"), REFUSED_HOSTS, ids=ids(REFUSED_HOSTS))
def test_a_provider_base_url_spelling_a_refused_address_is_refused_and_nothing_is_stored(
    strict: Any, owner: Persona, host: str, reason: str, what: str
) -> None:
    message = refused_at(apply(owner, provider(f"http://{host}:8080/v1")), "spec.provider.baseUrl")
    assert message.startswith(f"{host} may not be reached: ") and reason in message
    assert Provider.objects.count() == 0


@pytest.mark.parametrize(("host", "message", "what"), UNNORMALISABLE_HOSTS, ids=ids(UNNORMALISABLE_HOSTS))
def test_a_provider_base_url_that_cannot_be_normalised_is_refused(
    strict: Any, owner: Persona, host: str, message: str, what: str
) -> None:
    assert message in refused_at(apply(owner, provider(f"https://{host}/v1")), "spec.provider.baseUrl")
    assert Provider.objects.count() == 0


@pytest.mark.parametrize(("host", "reason", "what"), METADATA_SPELLINGS, ids=ids(METADATA_SPELLINGS))
def test_the_private_hosts_setting_never_lets_a_provider_reach_metadata(
    smarter_settings: Any, owner: Persona, host: str, reason: str, what: str
) -> None:
    smarter_settings.allow_private_hosts = True
    assert reason in refused_at(apply(owner, provider(f"http://{host}/v1")), "spec.provider.baseUrl")
    assert Provider.objects.count() == 0


def test_a_refused_provider_url_leaves_an_existing_provider_as_it_was(strict: Any, owner: Persona) -> None:
    assert apply(owner, provider("https://api.groq.com/openai/v1")).status_code == 200
    before = database_snapshot()
    fullwidth = spellings.digits("169.254.169.254", spellings.FULLWIDTH_DIGITS)
    refused_at(apply(owner, provider(f"http://{fullwidth}/v1")), "spec.provider.baseUrl")
    assert database_snapshot() == before
    assert Provider.objects.get().base_url == "https://api.groq.com/openai/v1"


def test_a_provider_base_url_is_stored_in_its_normalised_form(strict: Any, owner: Persona) -> None:
    written = f"HTTPS://{spellings.fullwidth_letters('api')}.Groq{spellings.IDEOGRAPHIC_FULL_STOP}COM./openai/v1/"
    response = apply(owner, provider(written))
    assert response.status_code == 200, response.content
    assert response.json()["data"]["manifest"]["spec"]["provider"]["baseUrl"] == "https://api.groq.com/openai/v1"
    assert Provider.objects.get().base_url == "https://api.groq.com/openai/v1"
    # Applying the same manifest again changes nothing: the stored form is the normalised one.
    assert apply(owner, provider(written)).json()["data"]["applied"] == "unchanged"


def test_every_persona_is_refused_the_same_and_no_account_changes(
    strict: Any, owner: Persona, teammate: Persona, outsider: Persona
) -> None:
    assert apply(owner, provider("https://api.groq.com/openai/v1", name="shared_name")).status_code == 200
    before = database_snapshot()
    circled = spellings.circled("127.0.0.1")
    for persona in (owner, teammate, outsider):
        message = refused_at(
            apply(persona, provider(f"http://{circled}:11434/v1", name="shared_name")), "spec.provider.baseUrl"
        )
        assert message == f"{circled} may not be reached: 127.0.0.1 is a loopback address"
    assert database_snapshot() == before
    assert list(Provider.objects.values_list("account__company_name", "base_url")) == [
        ("Acme", "https://api.groq.com/openai/v1")
    ]


# --- Chatbot spec.config.customDomain: looked up and served by the platform -----------------------
@pytest.mark.parametrize(("host", "reason", "what"), REFUSED_HOSTS, ids=ids(REFUSED_HOSTS))
def test_a_custom_domain_spelling_an_address_or_loopback_name_is_refused(
    strict: Any, owner: Persona, host: str, reason: str, what: str
) -> None:
    before = database_snapshot()
    response = apply(owner, chatbot(customDomain=host))
    refused_at(response, "spec.config.customDomain")
    assert database_snapshot() == before


def test_a_custom_domain_is_stored_as_its_ascii_name(strict: Any, owner: Persona, dns_server: Any) -> None:
    written = f"{spellings.fullwidth_letters('chat')}.Exämple{spellings.IDEOGRAPHIC_FULL_STOP}COM."
    response = apply(owner, chatbot(customDomain=written))
    assert response.status_code == 200, response.content
    assert response.json()["data"]["manifest"]["spec"]["config"]["customDomain"] == "chat.xn--exmple-cua.com"
    assert Chatbot.objects.get().custom_domain == "chat.xn--exmple-cua.com"


# --- Chatbot appLogoUrl, appBackgroundImageUrl, appInfoUrl: fetched by visitors' browsers ---------
BROWSER_FIELDS = ["appLogoUrl", "appBackgroundImageUrl", "appInfoUrl"]
BROWSER_ATTACKS = [
    ("https://cdn.example.com/bg.png');background:url('https://evil.example/x", "quotes or angle brackets"),
    ('https://cdn.example.com/bg.png")', "quotes or angle brackets"),
    ("https://cdn.example.com/bg.png'", "quotes or angle brackets"),
    ("https://cdn.example.com/<script>alert(1)</script>", "quotes or angle brackets"),
    ("https://cdn.example.com/`x`", "quotes or angle brackets"),
    ("https://cdn.example.com/a b.png", "must not contain a space"),
    ("https://cdn.example.com/a.png\r\nSet-Cookie: x=1", "U+000D"),
    # (surrounding whitespace is trimmed from every manifest string: these are inside)
    ("https://cdn.example.com/a\n.png", "U+000A"),
    ("https://cdn.example.com/a\t.png", "U+0009"),
    ("https://cdn.example.com/\x00", "U+0000"),
    ("https://cdn.example.com/a\u2028b", "U+2028"),
    ("https://cdn.example.com/\u202e", "U+202E"),
    ("https://cdn.example.com\\@evil.example/", "backslash"),
    ("javascript:alert(1)", "must be an http:// or https:// URL"),
    ("JaVaScRiPt:alert(1)", "must be an http:// or https:// URL"),
    ("data:image/svg+xml;base64,PHN2Zz4=", "must be an http:// or https:// URL"),
    ("vbscript:msgbox(1)", "must be an http:// or https:// URL"),
    ("//evil.example/logo.png", "must be an http:// or https:// URL"),
    ("ftp://cdn.example.com/logo.png", "only http and https"),
    ("https://user:pass@cdn.example.com/logo.png", "credentials"),
    ("https://cdn.example.com:99999/logo.png", "the port must be a number from 1 to 65535"),
    (f"https://{spellings.digits('1.2.3.4', spellings.ARABIC_INDIC_DIGITS)}/x.png", "international domain name"),
    ("https://xn--a.example/x.png", "international domain name"),
]


@pytest.mark.parametrize("field", BROWSER_FIELDS)
@pytest.mark.parametrize(("url", "message"), BROWSER_ATTACKS, ids=[m for _u, m in BROWSER_ATTACKS])
def test_a_branding_url_that_could_escape_the_page_is_refused_and_nothing_is_stored(
    strict: Any, owner: Persona, teammate: Persona, field: str, url: str, message: str
) -> None:
    assert apply(owner, chatbot(appName="Help")).status_code == 200
    before = database_snapshot()
    for persona in (owner, teammate):  # members tune branding; both are held to the same rule
        assert message in refused_at(apply(persona, chatbot(appName="Help", **{field: url})), f"spec.config.{field}")
    assert database_snapshot() == before


def test_branding_urls_are_stored_normalised_and_may_name_any_host(strict: Any, owner: Persona) -> None:
    # The visitor's browser fetches them, not the platform: an intranet logo is the tenant's business.
    response = apply(
        owner,
        chatbot(
            appLogoUrl=f"https://{spellings.fullwidth_letters('cdn')}.Exämple.com/Logo.png",
            appBackgroundImageUrl="http://127.0.0.1:8000/static/bg.png",
            appInfoUrl="https://example.com/über",
        ),
    )
    assert response.status_code == 200, response.content
    stored = Chatbot.objects.get()
    assert stored.app_logo_url == "https://cdn.xn--exmple-cua.com/Logo.png"
    assert stored.app_background_image_url == "http://127.0.0.1:8000/static/bg.png"
    assert stored.app_info_url == "https://example.com/%C3%BCber"
