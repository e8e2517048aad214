"""Secrets by role in the console: the connection editor and the Apply drop zone follow the same
rule as the API (they write through the same brokers). A member's retargeting of an admin's
connection, or a new one naming a Secret, is refused (403, or a failed line) and changes nothing;
what names no Secret, or leaves the target alone, applies."""

from __future__ import annotations

import html
from typing import Any

import pytest
import yaml

from smarter.apps.account.models import Secret
from smarter.apps.account.tests.factories import Persona
from smarter.apps.account.tests.test_secret_policy import World, manifest, world  # noqa: F401  (a fixture)
from smarter.apps.api.tests.helpers import database_snapshot
from smarter.apps.dashboard.tests.helpers import signed_in
from smarter.apps.plugin.models import ApiConnection, SqlConnection

pytestmark = pytest.mark.django_db


def as_text(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False)


def snapshot() -> dict[str, Any]:
    """Every row, but a secret's `last_accessed_at`: each console page shows the connection's
    health, and checking it reads the secret (it never changes its value)."""
    rows = database_snapshot()
    rows["account.secret"] = sorted(Secret.objects.values_list("name", "encrypted_value", "updated_at"))
    return rows


@pytest.mark.parametrize(
    ("path", "change", "description", "loc"),
    [
        (
            "/dashboard/connections/api/crm/",
            lambda w: w.crm(baseUrl=w.her_api.url),
            "Only an account admin may change where ApiConnection 'crm' sends its Secret.",
            "spec.connection.baseUrl",
        ),
        (
            "/dashboard/connections/api/crm/",
            lambda w: w.crm(apiKey="other_token"),
            "Only an account admin may change which Secret ApiConnection 'crm' uses.",
            "spec.connection.apiKey",
        ),
        (
            "/dashboard/connections/sql/warehouse/",
            lambda w: w.warehouse(dbEngine="postgresql", port=w.her_database.port),
            "Only an account admin may change where SqlConnection 'warehouse' sends its Secret.",
            "spec.connection.dbEngine",
        ),
    ],
    ids=["api baseUrl", "api secret", "sql engine and port"],
)
def test_the_connection_editor_refuses_a_members_retargeting(
    world: World,  # noqa: F811
    teammate: Persona,
    path: str,
    change: Any,
    description: str,
    loc: str,
) -> None:
    client = signed_in(teammate)
    before = snapshot()
    response = client.post(path, {"manifest": as_text(change(world))})
    assert response.status_code == 403
    page = response.content.decode()
    assert html.escape(description) in page
    assert loc in page
    assert snapshot() == before
    assert world.nothing_reached_her()


def test_the_connection_editor_applies_a_members_change_that_leaves_the_target_alone(
    world: World,  # noqa: F811
    teammate: Persona,
) -> None:
    response = signed_in(teammate).post(
        "/dashboard/connections/sql/warehouse/", {"manifest": as_text(world.warehouse(timeout=7))}
    )
    assert response.status_code == 200
    assert "Applied: updated." in response.content.decode()
    warehouse = SqlConnection.objects.get(name="warehouse")
    assert (warehouse.timeout, warehouse.port, warehouse.password.name) == (
        7,
        world.warehouse_port,
        "warehouse_password",
    )


def test_the_connection_editor_lets_an_admin_retarget(world: World, owner: Persona) -> None:  # noqa: F811
    response = signed_in(owner).post("/dashboard/connections/api/crm/", {"manifest": as_text(world.crm(timeout=3))})
    assert response.status_code == 200
    response = signed_in(owner).post(
        "/dashboard/connections/api/crm/", {"manifest": as_text(world.crm(baseUrl=world.her_api.url))}
    )
    assert (response.status_code, "Applied: updated." in response.content.decode()) == (200, True)
    assert ApiConnection.objects.get(name="crm").base_url == world.her_api.url


def test_the_apply_drop_zone_refuses_a_members_connection_naming_a_secret_and_applies_the_rest(
    world: World,  # noqa: F811
    teammate: Persona,
) -> None:
    naming = manifest(
        "ApiConnection",
        "exfil",
        {"connection": {"baseUrl": world.her_api.url, "authMethod": "token", "apiKey": "crm_token"}},
    )
    plain = manifest("ApiConnection", "public_api", {"connection": {"baseUrl": world.her_api.url}})
    retarget = world.warehouse(hostname="localhost")
    text = "---\n".join(as_text(document) for document in (naming, plain, retarget))
    response = signed_in(teammate).post("/dashboard/apply/", {"manifests": text})
    assert response.status_code == 200
    page = response.content.decode()
    assert (
        html.escape(
            "Only an account admin may create ApiConnection 'exfil': it names a Secret. Create it without one, "
            "or ask an admin."
        )
        in page
    )
    assert html.escape("Only an account admin may change where SqlConnection 'warehouse' sends its Secret.") in page
    assert sorted(ApiConnection.objects.values_list("name", flat=True)) == ["crm", "public_api"]
    assert SqlConnection.objects.get(name="warehouse").hostname == "127.0.0.1"
    assert all("Authorization" not in seen for seen in world.her_api.requests)


def test_the_outsider_finds_no_connection_of_acme_in_the_console(world: World, outsider: Persona) -> None:  # noqa: F811
    client = signed_in(outsider)
    before = snapshot()
    assert client.get("/dashboard/connections/api/crm/").status_code == 404
    assert client.post("/dashboard/connections/api/crm/", {"manifest": as_text(world.crm())}).status_code == 404
    assert snapshot() == before
