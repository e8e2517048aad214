"""Bad manifests: each answered 400 (or 413/415) with the field path, and the database unchanged."""

from __future__ import annotations

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import APPLY, database_snapshot

pytestmark = pytest.mark.django_db

GOOD_SPEC = "spec:\n  config:\n    value: s3cr3t\n"

YAML_BOMB = """\
apiVersion: smarter.sh/v1
kind: Secret
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
metadata: {name: bomb}
spec: {config: {value: *g}}
"""

CASES = [
    pytest.param(
        "apiVersion: [unclosed\n",
        400,
        [("(root)", "expected ',' or ']', but got '<stream end>' at line 2, column 1")],
        id="not-yaml",
    ),
    pytest.param(
        "- apiVersion: smarter.sh/v1\n- kind: Secret\n",
        400,
        [("(root)", "expected a mapping, got list")],
        id="yaml-list",
    ),
    pytest.param("just a sentence", 400, [("(root)", "expected a mapping, got string")], id="yaml-scalar"),
    pytest.param(
        "apiVersion: smarter.sh/v2\nkind: Secret\nmetadata: {name: x}\n" + GOOD_SPEC,
        400,
        [("apiVersion", "must be smarter.sh/v1")],
        id="unknown-apiVersion",
    ),
    pytest.param(
        "kind: Secret\nmetadata: {name: x}\n" + GOOD_SPEC,
        400,
        [("apiVersion", "must be smarter.sh/v1")],
        id="missing-apiVersion",
    ),
    pytest.param(
        "apiVersion: smarter.sh/v1\nkind: Gadget\nmetadata: {name: x}\n" + GOOD_SPEC,
        400,
        [("kind", None)],
        id="unknown-kind",
    ),
    pytest.param(
        "apiVersion: smarter.sh/v1\nmetadata: {name: x}\n" + GOOD_SPEC,
        400,
        [("kind", "required")],
        id="missing-kind",
    ),
    pytest.param(
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {description: x}\n" + GOOD_SPEC,
        400,
        [("metadata.name", "Field required")],
        id="missing-name",
    ),
    pytest.param(
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: DbPassword}\n" + GOOD_SPEC,
        400,
        [("metadata.name", "String should match pattern '^[a-z][a-z0-9_]*$'")],
        id="name-not-snake-case",
    ),
    pytest.param(
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: db-password}\n" + GOOD_SPEC,
        400,
        [("metadata.name", "String should match pattern '^[a-z][a-z0-9_]*$'")],
        id="name-with-dash",
    ),
    pytest.param(
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: " + "a" * 51 + "}\n" + GOOD_SPEC,
        400,
        [("metadata.name", "String should have at most 50 characters")],
        id="name-too-long",
    ),
    pytest.param(
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: x, tags: notalist}\n" + GOOD_SPEC,
        400,
        [("metadata.tags", "Input should be a valid list")],
        id="wrong-type-tags",
    ),
    pytest.param(
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: x}\nspec:\n  config:\n    value: [1, 2]\n",
        400,
        [("spec.config.value", "Input should be a valid string")],
        id="wrong-type-value",
    ),
    pytest.param(
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: x, version: one}\n" + GOOD_SPEC,
        400,
        [("metadata.version", r"String should match pattern '^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$'")],
        id="bad-version",
    ),
    pytest.param(
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: x}\nspec:\n  config:\n    value: s\n    colour: red\n",
        400,
        [("spec.config.colour", "unknown field")],
        id="unknown-spec-field",
    ),
    pytest.param(
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: x, owner: me}\n" + GOOD_SPEC,
        400,
        [("metadata.owner", "unknown field")],
        id="unknown-metadata-field",
    ),
    pytest.param(
        "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: x}\n",
        400,
        [("spec", "Field required")],
        id="missing-spec",
    ),
    pytest.param(YAML_BOMB, 400, [("(root)", "alias at line 4")], id="yaml-bomb"),
    pytest.param(
        "---\napiVersion: smarter.sh/v1\n---\napiVersion: smarter.sh/v1\n",
        400,
        [("(root)", "2 YAML documents")],
        id="two-documents",
    ),
    pytest.param("", 400, [("(root)", "empty body")], id="empty-body"),
]


@pytest.mark.parametrize(("body", "status", "errors"), CASES)
def test_a_bad_manifest_is_refused_with_the_field_path_and_changes_nothing(
    owner: Persona, body: str, status: int, errors: list[tuple[str, str | None]]
) -> None:
    before = database_snapshot()
    response = owner.client.post(APPLY, data=body, content_type="application/yaml")
    assert response.status_code == status, response.content
    payload = response.json()
    assert payload["status"] == status
    assert payload["errorClass"] == "ValidationError"
    assert payload["description"]
    got = [(error["loc"], error["msg"]) for error in payload["errors"]]
    assert [loc for loc, _ in got] == [loc for loc, _ in errors]
    for (_, expected), (_, actual) in zip(errors, got, strict=True):
        if expected is not None:
            assert actual == expected
    assert database_snapshot() == before


def test_unknown_kind_lists_the_known_kinds(owner: Persona) -> None:
    body = "apiVersion: smarter.sh/v1\nkind: Gadget\nmetadata: {name: x}\n" + GOOD_SPEC
    payload = owner.client.post(APPLY, data=body, content_type="application/yaml").json()
    assert payload["description"].startswith("Unknown kind 'Gadget'. Known kinds: Account, ")
    known = payload["errors"][0]["msg"].removeprefix("must be one of ").split(", ")
    assert {"Account", "ApiKey", "Secret", "User"} <= set(known)
    assert known == sorted(known)


def test_every_failing_field_is_listed(owner: Persona) -> None:
    body = "apiVersion: smarter.sh/v1\nkind: User\nmetadata: {name: x}\nspec:\n  config:\n    email: nope\n    role: boss\n    isActive: maybe\n"
    payload = owner.client.post(APPLY, data=body, content_type="application/yaml").json()
    assert [error["loc"] for error in payload["errors"]] == [
        "spec.config.email",
        "spec.config.role",
        "spec.config.isActive",
    ]
    assert payload["errors"][0]["msg"] == "must be an email address such as ada@example.com"
    assert payload["errors"][1]["msg"] == "Input should be 'admin' or 'member'"
    assert payload["context"]["kind"] == "User"


def test_a_2_mib_body_is_413_and_changes_nothing(owner: Persona) -> None:
    before = database_snapshot()
    body = "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: big}\nspec:\n  config:\n    value: " + "x" * (
        2 * 1024 * 1024
    )
    response = owner.client.post(APPLY, data=body, content_type="application/yaml")
    assert response.status_code == 413
    assert response.json()["errorClass"] == "PayloadTooLarge"
    assert response.json()["context"]["limit"] == 1024 * 1024
    assert database_snapshot() == before


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=x", "application/xml", "application/x-www-form-urlencoded"],
)
def test_a_body_that_is_not_yaml_or_json_is_415(owner: Persona, content_type: str) -> None:
    before = database_snapshot()
    body = "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: x}\n" + GOOD_SPEC
    response = owner.client.generic("POST", APPLY, data=body, content_type=content_type)
    assert response.status_code == 415
    assert response.json()["errorClass"] == "UnsupportedMediaType"
    assert "Content-Type: application/yaml" in response.json()["description"]
    assert database_snapshot() == before


def test_json_manifests_are_accepted_too(owner: Persona) -> None:
    body = '{"apiVersion": "smarter.sh/v1", "kind": "secret", "metadata": {"name": "from_json"}, "spec": {"config": {"value": "v"}}}'
    response = owner.client.post(APPLY, data=body, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["thing"] == "Secret"
    assert response.json()["data"]["manifest"]["metadata"]["name"] == "from_json"


def test_yaml_sent_as_json_content_type_is_accepted_like_the_official_cli_sends_it(owner: Persona) -> None:
    body = "apiVersion: smarter.sh/v1\nkind: Secret\nmetadata: {name: from_cli}\n" + GOOD_SPEC
    response = owner.client.post(APPLY, data=body, content_type="application/json")
    assert response.status_code == 200
