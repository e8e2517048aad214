"""apply is idempotent (the second time changes nothing) and atomic (a failure leaves nothing)."""

from __future__ import annotations

import pytest

from smarter.apps.account import services
from smarter.apps.account.models import JournalEntry, Secret
from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import APPLY, database_snapshot
from smarter.lib.manifests import apply_rank, registered_brokers

pytestmark = pytest.mark.django_db

USER = """\
apiVersion: smarter.sh/v1
kind: User
metadata:
  name: grace
spec:
  config:
    email: grace@example.test
    firstName: Grace
    lastName: Hopper
    role: member
"""


def test_applying_the_same_manifest_twice_changes_nothing_the_second_time(owner: Persona) -> None:
    first = owner.client.post(APPLY, data=USER, content_type="application/yaml").json()
    assert first["data"]["applied"] == "created"
    assert first["thing"] == "User"
    assert first["api"] == "smarter.sh/v1"
    assert first["metadata"]["command"] == "apply"
    snapshot = database_snapshot()
    second = owner.client.post(APPLY, data=USER, content_type="application/yaml").json()
    assert second["data"]["applied"] == "unchanged"
    assert database_snapshot() == snapshot
    assert second["data"]["manifest"] == first["data"]["manifest"]


def test_a_changed_field_is_an_update(owner: Persona) -> None:
    owner.client.post(APPLY, data=USER, content_type="application/yaml")
    changed = owner.client.post(
        APPLY, data=USER.replace("Hopper", "Murray Hopper"), content_type="application/yaml"
    ).json()
    assert changed["data"]["applied"] == "updated"
    assert changed["data"]["manifest"]["spec"]["config"]["lastName"] == "Murray Hopper"


def test_a_manifest_that_fails_half_way_leaves_nothing_behind(owner: Persona, monkeypatch: pytest.MonkeyPatch) -> None:
    real_create = services.secret_create

    def create_then_fail(**kwargs: object) -> Secret:
        real_create(**kwargs)  # the row is written...
        raise RuntimeError("disk full")  # ...and then the apply fails

    monkeypatch.setattr(services, "secret_create", create_then_fail)
    before = database_snapshot()
    body = "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: half}\nspec: {config: {value: v}}\n"
    response = owner.client.post(APPLY, data=body, content_type="application/yaml")
    assert response.status_code == 500
    assert database_snapshot() == before
    assert not Secret.objects.filter(name="half").exists()


def test_describe_output_reapplies_unchanged(owner: Persona) -> None:
    owner.client.post(APPLY, data=USER, content_type="application/yaml")
    described = owner.client.get("/api/v1/cli/describe/user/grace/").json()["data"]
    response = owner.client.post(APPLY, data=described, format="json")
    assert response.json()["data"]["applied"] == "unchanged"


def test_every_example_manifest_applies_as_is_in_dependency_order(owner: Persona) -> None:
    """Examples may name each other (a plugin its connection), as a user's directory would."""
    owner.user.is_superuser = True  # the Account example needs the platform operator
    owner.user.save()
    for broker in sorted(registered_brokers(), key=lambda broker: apply_rank(broker.kind)):
        example = owner.client.get(f"/api/v1/cli/example_manifest/{broker.kind}/").json()["data"]
        assert example["kind"] == broker.kind
        response = owner.client.post(APPLY, data=example, format="json")
        if broker.read_only:
            assert response.status_code == 400
            assert response.json()["errors"] == [{"loc": "kind", "msg": "read-only"}]
            continue
        assert response.status_code == 200, response.content
        assert response.json()["data"]["applied"] == "created", broker.kind
        again = owner.client.post(APPLY, data=example, format="json")
        assert again.json()["data"]["applied"] == "unchanged", broker.kind


@pytest.mark.parametrize("broker", registered_brokers(), ids=lambda broker: broker.kind)
def test_every_schema_is_the_json_schema_of_the_manifest_and_validates_its_example(
    owner: Persona, broker: object
) -> None:
    import jsonschema

    for path in (f"/api/v1/cli/schema/{broker.kind}/", f"/api/v1/cli/json-schema/{broker.kind}/"):
        schema = owner.client.get(path).json()["data"]
        assert schema["title"] == broker.kind
        kind_schema = schema["properties"]["kind"]
        assert broker.kind == kind_schema.get("const", kind_schema["default"])
        example = owner.client.post(f"/api/v1/cli/example-manifest/{broker.kind}/").json()["data"]
        jsonschema.validate(example, schema)


def test_journal_rows_are_written_for_each_command(owner: Persona) -> None:
    responses = [
        owner.client.post(APPLY, data=USER, content_type="application/yaml"),
        owner.client.get("/api/v1/cli/get/users/"),
        owner.client.post("/api/v1/cli/describe/user/?name=grace"),
        owner.client.post("/api/v1/cli/describe/user/?name=nobody"),
        owner.client.post("/api/v1/cli/delete/user/?name=grace"),
        owner.client.post("/api/v1/cli/whoami/"),
    ]
    entries = list(JournalEntry.objects.order_by("id"))
    assert [(e.command, e.kind, e.name, e.status_code) for e in entries] == [
        ("apply", "User", "grace", 200),
        ("get", "User", "", 200),
        ("describe", "User", "grace", 200),
        ("describe", "User", "nobody", 404),
        ("delete", "User", "grace", 200),
        ("whoami", "", "", 200),
    ]
    for entry, response in zip(entries, responses, strict=True):
        assert entry.account_id == owner.account.pk
        assert entry.user_id == owner.user.pk
        assert entry.api_key_id == owner.api_key.pk
        assert entry.duration_ms > 0
        assert entry.request_id == response["X-Request-ID"]
        if response.status_code == 200:
            assert response.json()["metadata"]["key"] == entry.key


def test_a_failing_journal_never_breaks_the_command(owner: Persona, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_create(**kwargs: object) -> None:
        raise RuntimeError("journal table locked")

    monkeypatch.setattr(JournalEntry.objects, "create", broken_create)
    response = owner.client.post(APPLY, data=USER, content_type="application/yaml")
    assert response.status_code == 200
    assert response.json()["data"]["applied"] == "created"
