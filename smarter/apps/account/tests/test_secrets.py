"""Secrets: encrypted at rest, write-only through the API, rotatable."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from smarter.apps.account import services
from smarter.apps.account.models import Secret
from smarter.apps.account.tests.factories import Persona
from smarter.testing.fixtures import SmarterSettingsOverride

pytestmark = pytest.mark.django_db
APPLY = "/api/v1/cli/apply/"
PLAINTEXT = "correct horse battery staple 🐎"


def secret_manifest(name: str, value: str | None = PLAINTEXT, description: str = "db password") -> str:
    value_line = f'\n    value: "{value}"' if value is not None else ""
    return (
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata:\n"
        f"  name: {name}\nspec:\n  config:{value_line}\n    description: {description}\n"
    )


def raw_column(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_value FROM account_secret WHERE name = %s", [name])
        return cursor.fetchone()[0]


def test_the_database_row_holds_no_plaintext(owner: Persona) -> None:
    response = owner.client.post(APPLY, data=secret_manifest("db_password"), content_type="application/yaml")
    assert response.status_code == 200
    stored = raw_column("db_password")
    assert PLAINTEXT not in stored and "horse" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert services.secret_reveal(secret=Secret.objects.get(name="db_password")) == PLAINTEXT


def test_describe_and_get_never_return_the_value(owner: Persona) -> None:
    owner.client.post(APPLY, data=secret_manifest("db_password"), content_type="application/yaml")
    described = owner.client.get("/api/v1/cli/describe/secret/?name=db_password").json()["data"]
    listed = owner.client.get("/api/v1/cli/get/secrets/").json()["data"]
    assert "value" not in described["spec"]["config"]
    assert described["spec"]["config"] == {"description": "db password", "expirationDate": None}
    for body in (described, listed):
        assert PLAINTEXT not in str(body)
        assert raw_column("db_password") not in str(body)


def test_reapplying_describe_output_keeps_the_value(owner: Persona) -> None:
    owner.client.post(APPLY, data=secret_manifest("db_password"), content_type="application/yaml")
    before = raw_column("db_password")
    response = owner.client.post(
        APPLY, data=secret_manifest("db_password", value=None), content_type="application/yaml"
    )
    assert response.json()["data"]["applied"] == "unchanged"
    assert raw_column("db_password") == before


def test_changing_the_value_reencrypts_and_says_updated(owner: Persona) -> None:
    owner.client.post(APPLY, data=secret_manifest("db_password"), content_type="application/yaml")
    response = owner.client.post(
        APPLY, data=secret_manifest("db_password", value="new"), content_type="application/yaml"
    )
    assert response.json()["data"]["applied"] == "updated"
    assert services.secret_reveal(secret=Secret.objects.get(name="db_password")) == "new"


def test_a_new_secret_without_value_is_refused_with_the_field(owner: Persona) -> None:
    response = owner.client.post(APPLY, data=secret_manifest("empty", value=None), content_type="application/yaml")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"loc": "spec.config.value", "msg": "required when creating a secret"}]
    assert not Secret.objects.exists()


def test_rotation_new_key_first_old_values_still_decrypt_and_reencrypt_moves_them(
    owner: Persona, smarter_settings: SmarterSettingsOverride
) -> None:
    old_key = smarter_settings.fernet_key_list[0]
    services.secret_create(account=owner.account, name="legacy", value=PLAINTEXT)
    new_key = Fernet.generate_key().decode()
    smarter_settings.fernet_keys = f"{new_key},{old_key}"
    legacy = Secret.objects.get(name="legacy")
    assert services.secret_reveal(secret=legacy) == PLAINTEXT  # the old key still decrypts
    before = raw_column("legacy")

    call_command("reencrypt_secrets", stdout=StringIO())

    after = raw_column("legacy")
    assert after != before
    assert Fernet(new_key.encode()).decrypt(after.encode()).decode() == PLAINTEXT
    smarter_settings.fernet_keys = new_key  # the old key can now be retired
    assert services.secret_reveal(secret=Secret.objects.get(name="legacy")) == PLAINTEXT


def test_members_cannot_write_secrets_but_can_list_their_names(owner: Persona, teammate: Persona) -> None:
    owner.client.post(APPLY, data=secret_manifest("db_password"), content_type="application/yaml")
    refused = teammate.client.post(APPLY, data=secret_manifest("other"), content_type="application/yaml")
    assert refused.status_code == 403
    assert teammate.client.post("/api/v1/cli/delete/secret/?name=db_password").status_code == 403
    assert Secret.objects.filter(name="db_password").exists()
    names = [item["name"] for item in teammate.client.get("/api/v1/cli/get/secret/").json()["data"]["items"]]
    assert names == ["db_password"]


def test_each_use_decrypts_the_stored_value_and_stamps_the_last_use_at_most_once_a_minute(owner: Persona) -> None:
    secret = services.secret_create(account=owner.account, name="api_token", value="first")
    assert secret.last_accessed_at is None
    with CaptureQueriesContext(connection) as queries:
        assert services.secret_reveal(secret=secret) == "first"
    assert [query["sql"].split()[0] for query in queries.captured_queries] == ["UPDATE"]
    stamped = Secret.objects.get(pk=secret.pk).last_accessed_at
    assert stamped is not None

    # Used again within the minute: no write; a value updated meanwhile is the one revealed.
    services.secret_update(secret=secret, value="second", description="", version="0.1.0", expires_at=None)
    again = Secret.objects.get(pk=secret.pk)
    with CaptureQueriesContext(connection) as queries:
        assert services.secret_reveal(secret=again) == "second"
    assert queries.captured_queries == []
    assert Secret.objects.get(pk=secret.pk).last_accessed_at == stamped

    # A minute later, the use is stamped again.
    Secret.objects.filter(pk=secret.pk).update(last_accessed_at=stamped - timedelta(seconds=61))
    later = Secret.objects.get(pk=secret.pk)
    with CaptureQueriesContext(connection) as queries:
        assert services.secret_reveal(secret=later) == "second"
    assert [query["sql"].split()[0] for query in queries.captured_queries] == ["UPDATE"]
    assert Secret.objects.get(pk=secret.pk).last_accessed_at > stamped


def test_tags_and_annotations_are_kept_as_other_kinds_keep_them(
    owner: Persona, teammate: Persona, outsider: Persona
) -> None:
    manifest = {
        "apiVersion": "smarter.sh/v1",
        "kind": "Secret",
        "metadata": {"name": "crm_token", "tags": ["crm", "prod"], "annotations": [{"owner": "sales-ops"}]},
        "spec": {"config": {"value": PLAINTEXT}},
    }
    assert owner.client.post(APPLY, data=manifest, format="json").json()["data"]["applied"] == "created"

    for persona in (owner, teammate):
        described = persona.client.get("/api/v1/cli/describe/secret/?name=crm_token").json()["data"]
        assert (described["metadata"]["tags"], described["metadata"]["annotations"]) == (
            ["crm", "prod"],
            [{"owner": "sales-ops"}],
        )
    assert outsider.client.get("/api/v1/cli/describe/secret/?name=crm_token").status_code == 404
    # Applied again as described (without the write-only value): nothing to change.
    assert owner.client.post(APPLY, data=described, format="json").json()["data"]["applied"] == "unchanged"
    manifest["metadata"]["tags"] = ["crm"]
    assert owner.client.post(APPLY, data=manifest, format="json").json()["data"]["applied"] == "updated"
    assert Secret.objects.get(name="crm_token").tags == ["crm"]


def test_a_console_edit_keeps_the_tags(owner: Persona) -> None:
    secret = services.secret_create(account=owner.account, name="crm_token", value="v", tags=["crm"])

    services.secret_update(secret=secret, value=None, description="edited", version="0.1.0", expires_at=None)

    secret.refresh_from_db()
    assert (secret.description, secret.tags) == ("edited", ["crm"])
