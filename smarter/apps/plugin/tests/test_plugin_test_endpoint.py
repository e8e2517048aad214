"""POST /api/v1/plugins/<name>/test/: run a plugin as the model would."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.plugin.tests.conftest import apply, manifest

pytestmark = pytest.mark.django_db


@pytest.fixture
def courses(owner: Any, sqlite_dir: Any) -> None:
    assert (
        apply(
            owner,
            manifest("SqlConnection", "db", {"connection": {"dbEngine": "sqlite", "database": "courses.sqlite3"}}),
        ).status_code
        == 200
    )
    plugin = manifest(
        "SqlPlugin",
        "courses",
        {
            "selector": {"directive": "always"},
            "connection": "db",
            "sqlData": {
                "description": "Courses by topic",
                "sqlQuery": "SELECT title FROM courses WHERE description LIKE '%' || {topic} || '%' ORDER BY id",
                "parameters": [{"name": "topic", "type": "string", "required": True, "enum": ["AI", "web"]}],
                "testValues": [{"name": "topic", "value": "web"}],
            },
        },
    )
    assert apply(owner, plugin).status_code == 200


def test_without_arguments_the_test_values_are_used(owner: Any, courses: Any) -> None:
    response = owner.client.post("/api/v1/plugins/courses/test/", {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["result"]["rows"] == [{"title": "Web apps"}, {"title": "Naïve café ☕"}]
    assert body["executed"] == {
        "sql": "SELECT title FROM courses WHERE description LIKE '%' || ? || '%' ORDER BY id",
        "parameters": ["web"],
    }
    assert isinstance(body["ms"], float)


def test_an_empty_post_uses_the_test_values_too(owner: Any, courses: Any) -> None:
    response = owner.client.post("/api/v1/plugins/courses/test/")
    assert response.status_code == 200
    assert response.json()["executed"]["parameters"] == ["web"]


def test_given_arguments_are_used_and_a_bad_one_answers_200_with_an_error(
    owner: Any, teammate: Any, courses: Any
) -> None:
    response = teammate.client.post("/api/v1/plugins/courses/test/", {"arguments": {"topic": "AI"}}, format="json")
    assert response.json()["result"]["rows"] == [{"title": "Intro to AI"}, {"title": "Advanced AI"}]
    response = owner.client.post("/api/v1/plugins/courses/test/", {"arguments": {"topic": "cooking"}}, format="json")
    assert response.status_code == 200
    assert response.json()["error"] == "argument 'topic' must be one of AI, web"
    assert "result" not in response.json()


def test_another_accounts_or_an_unknown_plugin_is_404(outsider: Any, owner: Any, courses: Any) -> None:
    assert outsider.client.post("/api/v1/plugins/courses/test/", {}, format="json").status_code == 404
    assert owner.client.post("/api/v1/plugins/nope/test/", {}, format="json").status_code == 404


def test_a_bad_body_is_400_with_the_field_path(owner: Any, courses: Any) -> None:
    response = owner.client.post("/api/v1/plugins/courses/test/", {"arguments": "topic=AI"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"loc": "arguments", "msg": 'Expected a dictionary of items but got type "str".'}
    ]
    response = owner.client.post("/api/v1/plugins/courses/test/", {"argumnts": {}}, format="json")
    assert response.json()["errors"] == [{"loc": "argumnts", "msg": "unknown field"}]


def test_without_a_key_it_is_401(client: Any, courses: Any) -> None:
    assert client.post("/api/v1/plugins/courses/test/").status_code == 401


def test_a_static_plugin_answers_its_first_key_by_default(owner: Any) -> None:
    apply(
        owner,
        manifest(
            "Plugin",
            "faq",
            {
                "selector": {"directive": "always"},
                "data": {"description": "FAQ", "staticData": {"hours": "9-5", "phone": "555"}},
            },
        ),
    )
    assert owner.client.post("/api/v1/plugins/faq/test/", {}, format="json").json()["result"] == "9-5"
    body = owner.client.post(
        "/api/v1/plugins/faq/test/", {"arguments": {"inquiry_type": "phone"}}, format="json"
    ).json()
    assert body == {"result": "555", "ms": body["ms"], "executed": {"inquiry_type": "phone"}}
