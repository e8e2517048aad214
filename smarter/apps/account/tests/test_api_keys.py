"""API keys: shown once, stored hashed, revoked or expired keys refused at the very next request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from smarter.apps.account.models import ApiKey
from smarter.apps.account.tests.factories import Persona

WHOAMI = "/api/v1/cli/whoami/"
APPLY = "/api/v1/cli/apply/"

pytestmark = pytest.mark.django_db


def client_with(header: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


def apply(persona: Persona, manifest: str) -> dict:
    response = persona.client.post(APPLY, data=manifest, content_type="application/yaml")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def api_key_manifest(name: str, **config: str) -> str:
    lines = "".join(f"\n    {key}: {value}" for key, value in config.items()) or " {}"
    return f"apiVersion: smarter.sh/v1\nkind: ApiKey\nmetadata:\n  name: {name}\nspec:\n  config:{lines}\n"


def test_a_created_key_is_shown_once_and_works_with_token_and_bearer(owner: Persona) -> None:
    data = apply(owner, api_key_manifest("ci"))
    plaintext = data["apiKey"]
    assert data["applied"] == "created"
    assert plaintext.startswith("smarter_")
    for scheme in ("Token", "Bearer", "token"):
        response = client_with(f"{scheme} {plaintext}").get(WHOAMI)
        assert response.status_code == 200
        assert response.json()["data"] == {
            "username": "owner",
            "accountNumber": owner.account.account_number,
            "role": "admin",
        }
    described = owner.client.get("/api/v1/cli/describe/apikey/?name=ci").json()["data"]
    assert "apiKey" not in described
    assert plaintext not in str(described)
    assert described["status"]["keyPrefix"] == f"smarter_{plaintext.split('_')[1]}…"
    # Re-applying the same manifest issues no new key.
    again = apply(owner, api_key_manifest("ci"))
    assert again["applied"] == "unchanged"
    assert "apiKey" not in again


def test_the_database_keeps_only_a_hash_and_the_prefix(owner: Persona) -> None:
    plaintext = apply(owner, api_key_manifest("stored"))["apiKey"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM account_apikey WHERE name = %s", ["stored"])
        row = cursor.fetchone()
    assert not any(plaintext in str(value) for value in row)
    secret_part = plaintext.split("_", 2)[2]
    assert not any(secret_part in str(value) for value in row)
    key = ApiKey.objects.get(name="stored")
    assert len(key.digest) == 64 and key.prefix == plaintext.split("_")[1]


def test_a_revoked_key_gets_401_at_the_very_next_request(owner: Persona) -> None:
    plaintext = apply(owner, api_key_manifest("short_lived"))["apiKey"]
    client = client_with(f"Token {plaintext}")
    assert client.get(WHOAMI).status_code == 200
    data = apply(owner, api_key_manifest("short_lived", isActive="false"))
    assert data["applied"] == "updated"
    response = client.get(WHOAMI)
    assert response.status_code == 401
    assert response.json()["errorClass"] == "NotAuthenticated"
    assert response["WWW-Authenticate"] == 'Token realm="api"'


def test_a_revoked_key_cannot_be_reactivated(owner: Persona) -> None:
    apply(owner, api_key_manifest("gone"))
    apply(owner, api_key_manifest("gone", isActive="false"))
    response = owner.client.post(APPLY, data=api_key_manifest("gone", isActive="true"), content_type="application/yaml")
    assert response.status_code == 409
    assert ApiKey.objects.get(name="gone").revoked_at is not None


def test_an_expired_key_gets_401(owner: Persona) -> None:
    plaintext = apply(owner, api_key_manifest("expiring"))["apiKey"]
    ApiKey.objects.filter(name="expiring").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client_with(f"Token {plaintext}").get(WHOAMI).status_code == 401


def test_a_key_expiring_in_the_future_works_until_then(owner: Persona) -> None:
    future = (timezone.now() + timedelta(days=1)).isoformat()
    plaintext = apply(owner, api_key_manifest("tomorrow", expiresAt=f"'{future}'"))["apiKey"]
    assert client_with(f"Token {plaintext}").get(WHOAMI).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Token ",
        "Token",
        "Bearer    ",
        "Token smarter_",
        "Token smarter_zzzzzzzz_" + "a" * 43,
        "Token smarter_0123abcd_" + "a" * 43,
        "Token not-a-key",
        "Token two words",
        "Token " + "x" * 10_000,
        "Bearer " + "smarter_" * 1500,
        "Token \u00e9\u00e9\u00e9",
    ],
)
def test_malformed_empty_or_huge_headers_get_401_never_500(db: None, header: str) -> None:
    response = client_with(header).get(WHOAMI)
    assert response.status_code == 401
    assert response.json()["status"] == 401


def test_no_key_at_all_gets_401_with_the_envelope(db: None) -> None:
    response = APIClient().get(WHOAMI)
    assert response.status_code == 401
    body = response.json()
    assert body["errorClass"] == "NotAuthenticated"
    assert "Token" in body["description"]


def test_last_used_at_is_recorded(owner: Persona) -> None:
    assert ApiKey.objects.get(pk=owner.api_key.pk).last_used_at is None
    owner.client.get(WHOAMI)
    used = ApiKey.objects.get(pk=owner.api_key.pk).last_used_at
    assert used is not None and timezone.now() - used < timedelta(seconds=10)


def test_a_key_stops_working_when_its_user_leaves_the_account(owner: Persona, teammate: Persona) -> None:
    assert teammate.client.get(WHOAMI).status_code == 200
    response = owner.client.post("/api/v1/cli/delete/user/?name=teammate")
    assert response.status_code == 200
    assert teammate.client.get(WHOAMI).status_code == 401


def test_a_member_cannot_create_api_keys(teammate: Persona) -> None:
    response = teammate.client.post(APPLY, data=api_key_manifest("mine"), content_type="application/yaml")
    assert response.status_code == 403
    assert response.json()["errorClass"] == "PermissionDenied"
    assert not ApiKey.objects.filter(name="mine").exists()


def test_an_admin_can_issue_a_key_for_a_teammate(owner: Persona, teammate: Persona) -> None:
    plaintext = apply(owner, api_key_manifest("for_teammate", username="teammate"))["apiKey"]
    assert client_with(f"Token {plaintext}").get(WHOAMI).json()["data"]["username"] == "teammate"


def test_a_key_cannot_be_issued_for_someone_outside_the_account(owner: Persona, outsider: Persona) -> None:
    response = owner.client.post(
        APPLY, data=api_key_manifest("sneaky", username="outsider"), content_type="application/yaml"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"loc": "spec.config.username", "msg": "must be a member of this account"}]
    assert not ApiKey.objects.filter(name="sneaky").exists()
