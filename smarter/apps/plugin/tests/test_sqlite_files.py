"""A tenant's SQLite files are its own: every way of naming a file outside the account's folder is
refused, the same way whether or not the file exists, and no answer carries a server path."""

from __future__ import annotations

import json
import os
import sqlite3
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from smarter.apps.account.tests.factories import Persona
from smarter.apps.plugin import selectors, services, sqlite_files
from smarter.apps.plugin.models import Plugin, SqlConnection
from smarter.apps.plugin.tests.conftest import apply, courses_database, error_locs, manifest

pytestmark = pytest.mark.django_db

RUN_TIME_REFUSAL = f"the connection's database {sqlite_files.REFUSED}"

# Ways to name a file of another account (or any file of the server) from one's own folder.
# {root} is the plugin data folder, {owner} the owner's account number, {file} the file's name.
ESCAPES = [
    "../{owner}/{file}",
    "./../{owner}/{file}",
    "sub/../../{owner}/{file}",
    "{owner}/../../{owner}/{file}",
    "../../plugin-data/{owner}/{file}",
    "{root}/{owner}/{file}",
    "/{owner}/{file}",
    "//{root}/{owner}/{file}",
    "..%2f{owner}%2f{file}",
    "%2e%2e/{owner}/{file}",
    "%2E%2E%2F{owner}%2F{file}",
    "..%252f{owner}%252f{file}",
    "%2F{root}%2F{owner}%2F{file}",
    "file:../{owner}/{file}",
    "file:{root}/{owner}/{file}",
    "file://{root}/{owner}/{file}",
    "file:{file}?mode=rwc",
    "{file}?mode=rw",
    "{file}?mode=ro&immutable=1",
    "../{owner}/{file}?mode=ro",
    "{file}#../{owner}",
    "..\\{owner}\\{file}",
    "..\\\\{owner}\\\\{file}",
    "{file}\x00",
    "../{owner}/{file}\x00.sqlite3",
    "\x00../{owner}/{file}",
    "~/{file}",
    "~root/{file}",
    "$HOME/{file}",
    "\uff0e\uff0e/{owner}/{file}",  # fullwidth full stops
    "\u2024\u2024/{owner}/{file}",  # one-dot leaders
    "..\u2215{owner}\u2215{file}",  # division slash
    " ../{owner}/{file}",
    "../{owner}/{file} ",
    "..\t/{owner}/{file}",
    "../{owner}/{file}\n",
    "{file}/",
    "a//{file}",
    ".{file}",
    "..",
    ".",
    ":memory:",
    "/".join(["a"] * 8) + "/{file}",
]


def spelled(form: str, root: Path, owner_number: str, file: str) -> str:
    return form.replace("{root}", str(root)).replace("{owner}", owner_number).replace("{file}", file)


def sqlite_connection(database: str, name: str = "stolen") -> dict[str, Any]:
    return manifest("SqlConnection", name, {"connection": {"dbEngine": "sqlite", "database": database, "timeout": 2}})


def courses_plugin(connection: str = "stolen", name: str = "courses") -> dict[str, Any]:
    return manifest(
        "SqlPlugin",
        name,
        {
            "selector": {"directive": "always"},
            "connection": connection,
            "sqlData": {
                "description": "Courses on a topic",
                "sqlQuery": "SELECT title FROM courses WHERE description LIKE '%' || {topic} || '%' ORDER BY id",
                "parameters": [{"name": "topic", "type": "string", "required": True}],
                "testValues": [{"name": "topic", "value": "AI"}],
            },
        },
    )


def without_request_id(response: Any) -> dict[str, Any]:
    """The answer as a user compares two: each request has its own id, nothing else may differ."""
    body: dict[str, Any] = response.json()
    body["context"].pop("requestId", None)
    return body


def assert_no_server_path(response: Any, *paths: Path) -> None:
    body = response.content.decode()
    for path in paths:
        assert str(path) not in body
        assert json.dumps(str(path))[1:-1] not in body  # nor escaped, as inside a JSON string


@pytest.fixture
def personas(owner: Persona, teammate: Persona, outsider: Persona) -> dict[str, Persona]:
    return {"owner": owner, "teammate": teammate, "outsider": outsider}


@pytest.mark.parametrize("who", ["owner", "teammate", "outsider"])
@pytest.mark.parametrize("form", ESCAPES)
def test_every_way_out_of_the_own_folder_is_refused_at_apply_the_same_whether_or_not_the_file_exists(
    personas: dict[str, Persona], sqlite_dir: Path, plugin_data_root: Path, tmp_path: Path, who: str, form: str
) -> None:
    owner_number = personas["owner"].account.account_number
    existing = spelled(form, plugin_data_root, owner_number, "courses.sqlite3")
    missing = spelled(form, plugin_data_root, owner_number, "nothing.sqlite3")
    answers = []
    for database in (existing, missing):
        response = apply(personas[who], sqlite_connection(database))
        assert response.status_code == 400, response.json()
        assert error_locs(response) == {"spec.connection.database": sqlite_files.REFUSED}
        assert_no_server_path(response, tmp_path)
        answers.append(without_request_id(response))
    assert answers[0] == answers[1]
    assert SqlConnection.objects.count() == 0


def test_a_relative_name_means_a_file_in_the_callers_own_folder(
    owner: Persona, teammate: Persona, outsider: Persona, sqlite_dir: Path, plugin_data_root: Path, tmp_path: Path
) -> None:
    for persona in (owner, outsider):
        assert apply(persona, sqlite_connection("courses.sqlite3", name="catalogue")).status_code == 200
        assert apply(persona, courses_plugin("catalogue")).status_code == 200
    # the owner's (and so the teammate's) catalogue is the owner's file
    for persona in (owner, teammate):
        response = persona.client.post("/api/v1/plugins/courses/test/", {}, format="json")
        assert response.json()["result"]["rows"] == [{"title": "Intro to AI"}, {"title": "Advanced AI"}]
    # the outsider's same name is a file of her own folder, which has none yet
    describe = outsider.client.get("/api/v1/cli/describe/sqlconnection/?name=catalogue")
    assert describe.json()["data"]["status"]["health"]["detail"] == (
        "the database file courses.sqlite3 does not exist in your account's plugin data folder"
    )
    response = outsider.client.post("/api/v1/plugins/courses/test/", {}, format="json")
    assert response.json()["error"] == (
        "the database file courses.sqlite3 does not exist in your account's plugin data folder"
    )
    assert "Intro to AI" not in response.content.decode()
    assert_no_server_path(describe, tmp_path)
    assert_no_server_path(response, tmp_path)
    # once her folder has one, she reads hers and only hers
    (plugin_data_root / outsider.account.account_number).mkdir()
    with sqlite3.connect(plugin_data_root / outsider.account.account_number / "courses.sqlite3") as database:
        database.execute("CREATE TABLE courses (id INTEGER, title TEXT, description TEXT)")
        database.execute("INSERT INTO courses VALUES (1, 'Globex AI school', 'AI for rockets')")
    database.close()
    response = outsider.client.post("/api/v1/plugins/courses/test/", {}, format="json")
    assert response.json()["result"]["rows"] == [{"title": "Globex AI school"}]


def link(at: Path, to: Path | str) -> None:
    at.parent.mkdir(parents=True, exist_ok=True)
    at.symlink_to(to)


def escaping_link(case: str, own: Path, owner_folder: Path, root: Path, file: str) -> str:
    """Make, inside `own`, a link of kind `case` towards the owner's `file`; return the name to apply."""
    if case == "to a file":
        link(own / "link.sqlite3", owner_folder / file)
        return "link.sqlite3"
    if case == "relative":
        link(own / "rel.sqlite3", os.path.relpath(owner_folder / file, own))
        return "rel.sqlite3"
    if case == "nested":
        link(own / "a" / "b" / "deep.sqlite3", owner_folder / file)
        return "a/b/deep.sqlite3"
    if case == "to the owner's folder":
        link(own / "shared", owner_folder)
        return f"shared/{file}"
    if case == "to the root":
        link(own / "up", root)
        return f"up/{owner_folder.name}/{file}"
    assert case == "through a link outside"
    link(root / f"hop-{file}", owner_folder / file)
    link(own / "chain.sqlite3", root / f"hop-{file}")
    return "chain.sqlite3"


@pytest.mark.parametrize(
    "case",
    ["to a file", "relative", "nested", "to the owner's folder", "to the root", "through a link outside"],
)
def test_a_link_that_leads_out_of_the_own_folder_is_refused_the_same_whether_or_not_its_target_exists(
    owner: Persona, outsider: Persona, sqlite_dir: Path, plugin_data_root: Path, tmp_path: Path, case: str
) -> None:
    answers = []
    for index, file in enumerate(("courses.sqlite3", "nothing.sqlite3")):
        own = plugin_data_root / outsider.account.account_number / f"try{index}"
        database = escaping_link(case, own, sqlite_dir, plugin_data_root, file)
        response = apply(outsider, sqlite_connection(f"try{index}/{database}"))
        assert response.status_code == 400, response.json()
        assert error_locs(response) == {"spec.connection.database": sqlite_files.REFUSED}
        assert_no_server_path(response, tmp_path)
        answers.append(without_request_id(response))
    assert answers[0] == answers[1]
    assert SqlConnection.objects.count() == 0


def test_a_link_that_stays_in_the_own_folder_is_followed(owner: Persona, sqlite_dir: Path) -> None:
    (sqlite_dir / "current.sqlite3").symlink_to("courses.sqlite3")
    assert apply(owner, sqlite_connection("current.sqlite3")).status_code == 200
    assert apply(owner, courses_plugin()).status_code == 200
    response = owner.client.post("/api/v1/plugins/courses/test/", {}, format="json")
    assert response.json()["result"]["rows"] == [{"title": "Intro to AI"}, {"title": "Advanced AI"}]


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_the_platforms_own_database_is_refused_inside_the_own_folder_and_through_a_link(
    owner: Persona, sqlite_dir: Path, settings: Any, tmp_path: Path
) -> None:
    for platform, name in [
        (sqlite_dir / "platform.sqlite3", "platform.sqlite3"),  # an operator put it there
        (tmp_path / "state" / "smarter.sqlite3", "state.sqlite3"),
    ]:
        courses_database(platform)
        if name == "state.sqlite3":
            (sqlite_dir / name).symlink_to(platform)
        # A new dict: the open test connection keeps its own settings.
        settings.DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(platform)}}
        response = apply(owner, sqlite_connection(name))
        assert error_locs(response) == {"spec.connection.database": sqlite_files.REFUSED}
        assert_no_server_path(response, tmp_path)
    assert SqlConnection.objects.count() == 0


# --- at run time: rows stored before the upgrade, links made after apply ---------------------------
def legacy_connection(persona: Persona, database: str) -> SqlConnection:
    """A connection as an older release stored it, before names were checked against the account."""
    return services.sql_connection_create(
        account=persona.account, name="stolen", db_engine="sqlite", database=database, timeout=2
    )


def legacy_plugin(persona: Persona, database: str) -> Plugin:
    legacy_connection(persona, database)
    assert apply(persona, courses_plugin()).status_code == 200
    plugin = selectors.plugin_get(account=persona.account, name="courses")
    assert plugin is not None
    return plugin


RUN_TIME_ESCAPES = ["../{owner}/{file}", "{root}/{owner}/{file}", "file:../{owner}/{file}", "{file}\x00"]


@pytest.mark.parametrize("form", RUN_TIME_ESCAPES)
def test_a_stored_escape_is_refused_by_the_plugin_test_and_describe_the_same_whether_or_not_the_file_exists(
    owner: Persona, outsider: Persona, sqlite_dir: Path, plugin_data_root: Path, tmp_path: Path, form: str
) -> None:
    answers = []
    for file in ("courses.sqlite3", "nothing.sqlite3"):
        Plugin.objects.all().delete()
        SqlConnection.objects.all().delete()
        legacy_plugin(outsider, spelled(form, plugin_data_root, owner.account.account_number, file))
        tested = outsider.client.post("/api/v1/plugins/courses/test/", {}, format="json")
        assert tested.status_code == 200
        assert tested.json()["error"] == RUN_TIME_REFUSAL
        described = outsider.client.get("/api/v1/cli/describe/sqlconnection/?name=stolen")
        assert described.status_code == 200
        assert described.json()["data"]["status"]["health"]["detail"] == RUN_TIME_REFUSAL
        for response in (tested, described):
            assert "Intro to AI" not in response.content.decode()
        assert_no_server_path(tested, tmp_path)
        # describe's spec shows the name as it was stored (the tenant's own words); the rest, nothing
        assert str(tmp_path) not in json.dumps(described.json()["data"]["status"])
        answers.append((tested.json()["error"], described.json()["data"]["status"]["health"]))
    assert answers[0][0] == answers[1][0]
    assert {key: answers[0][1][key] for key in ("reachable", "detail")} == {
        key: answers[1][1][key] for key in ("reachable", "detail")
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("file", ["courses.sqlite3", "nothing.sqlite3"])
def test_in_a_chat_the_model_gets_the_refusal_and_none_of_the_owners_rows(
    asgi_server: Any,
    owner: Persona,
    outsider: Persona,
    sqlite_dir: Path,
    plugin_data_root: Path,
    tmp_path: Path,
    smarter_settings: Any,
    file: str,
) -> None:
    import httpx

    from smarter.apps.chat.models import ToolCall
    from smarter.testing.openai_stub import OpenAIStub, text_reply, tool_calls_reply

    legacy_plugin(outsider, f"../{owner.account.account_number}/{file}")
    chatbot = manifest("Chatbot", "support", {"config": {"defaultModel": "gpt-4o-mini"}, "plugins": ["courses"]})
    assert apply(outsider, chatbot).status_code == 200
    with OpenAIStub() as upstream:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = upstream.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        upstream.enqueue(tool_calls_reply(("courses", {"topic": "AI"})), text_reply("No courses for you."))
        with httpx.Client(base_url=asgi_server.url, headers={"Authorization": f"Token {outsider.key}"}) as client:
            response = client.post("/api/v1/chatbots/support/chat/", json={"prompt": "AI courses?"}, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["tool_calls"][0]["error"] == RUN_TIME_REFUSAL
        tool_message = upstream.chat_requests[1].messages[-1]
    assert tool_message["role"] == "tool"
    assert json.loads(tool_message["content"]) == {"error": RUN_TIME_REFUSAL}
    assert ToolCall.objects.get().error == RUN_TIME_REFUSAL
    for text in (response.text, json.dumps(tool_message)):
        assert "Intro to AI" not in text and str(tmp_path) not in text


def test_a_link_made_after_apply_is_refused_when_the_query_runs(
    owner: Persona, outsider: Persona, sqlite_dir: Path, plugin_data_root: Path, tmp_path: Path
) -> None:
    assert apply(outsider, sqlite_connection("later.sqlite3")).status_code == 200
    assert apply(outsider, courses_plugin()).status_code == 200
    link(plugin_data_root / outsider.account.account_number / "later.sqlite3", sqlite_dir / "courses.sqlite3")
    response = outsider.client.post("/api/v1/plugins/courses/test/", {}, format="json")
    assert response.json()["error"] == RUN_TIME_REFUSAL
    assert "Intro to AI" not in response.content.decode()
    assert_no_server_path(response, tmp_path)


def test_the_console_shows_a_connection_without_server_paths(
    owner: Persona, outsider: Persona, sqlite_dir: Path, plugin_data_root: Path, tmp_path: Path
) -> None:
    from smarter.apps.dashboard.tests.helpers import signed_in

    legacy_connection(outsider, f"../{owner.account.account_number}/courses.sqlite3")
    page = signed_in(outsider).get("/dashboard/connections/sql/stolen/")
    assert page.status_code == 200
    assert RUN_TIME_REFUSAL.replace("'", "&#x27;") in page.content.decode()
    assert_no_server_path(page, tmp_path)


# --- the class of 500s: control characters in a connection's fields --------------------------------
@pytest.mark.parametrize(
    ("engine", "field", "value"),
    [
        ("sqlite", "database", "courses.sqlite3\x00"),
        ("sqlite", "database", "\x00"),
        ("mysql", "database", "shop\x00"),
        ("mysql", "database", "shop\r\nSET x=1"),
        ("mysql", "username", "root\x00"),
        ("postgresql", "database", "\x00shop"),
        ("postgresql", "username", "ro\x7fot"),
    ],
)
def test_a_nul_byte_or_a_line_break_in_a_connection_is_400_with_the_field_path(
    owner: Persona, sqlite_dir: Path, private_hosts: Any, engine: str, field: str, value: str
) -> None:
    connection = {"dbEngine": engine, "hostname": "127.0.0.1", "database": "shop", "username": "root", "timeout": 1}
    connection[field] = value
    response = apply(owner, manifest("SqlConnection", "nul", {"connection": connection}))
    assert response.status_code == 400, response.content
    expected = (
        sqlite_files.REFUSED
        if engine == "sqlite"
        else "must not contain control characters such as a NUL byte or a line break"
    )
    assert error_locs(response) == {f"spec.connection.{field}": expected}
    assert SqlConnection.objects.count() == 0


def test_describe_of_a_stored_connection_that_a_driver_chokes_on_is_200_not_500(
    owner: Persona, private_hosts: Any
) -> None:
    # Stored before these checks existed: the driver refuses the NUL byte in its own way.
    services.sql_connection_create(
        account=owner.account, name="old", db_engine="mysql", hostname="127.0.0.1", database="shop\x00", timeout=1
    )
    response = owner.client.get("/api/v1/cli/describe/sqlconnection/?name=old")
    assert response.status_code == 200
    health = response.json()["data"]["status"]["health"]
    assert (health["reachable"], health["detail"]) == (False, "the check failed unexpectedly")


# --- upgrading from the shared folder ---------------------------------------------------------------
def test_move_plugin_data_moves_each_file_into_the_one_account_that_uses_it(
    owner: Persona, outsider: Persona, plugin_data_root: Path
) -> None:
    root = plugin_data_root
    courses_database(root / "catalogue.sqlite3")
    (root / "catalogue.sqlite3-wal").write_bytes(b"")
    courses_database(root / "reports" / "sales.sqlite3")
    courses_database(root / "both.sqlite3")
    courses_database(root / outsider.account.account_number / "theirs.sqlite3")
    for persona, name, database in [
        (owner, "catalogue", "catalogue.sqlite3"),
        (owner, "sales", "reports/sales.sqlite3"),
        (owner, "both", "both.sqlite3"),
        (outsider, "both", "both.sqlite3"),
        (owner, "gone", "gone.sqlite3"),
        (owner, "grab", f"{outsider.account.account_number}/theirs.sqlite3"),
        (owner, "spaced", "my courses.sqlite3"),
    ]:
        services.sql_connection_create(account=persona.account, name=name, db_engine="sqlite", database=database)
    mine, theirs = owner.account.account_number, outsider.account.account_number

    def run(*options: str) -> list[str]:
        out = StringIO()
        call_command("move_plugin_data", *options, stdout=out)
        return out.getvalue().splitlines()

    before = sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
    dry = run("--dry-run")
    assert sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) == before
    assert f"{mine} catalogue catalogue.sqlite3: would be moved" in dry
    shared = "left alone: 2 accounts use this file; copy it for the one that owns it"
    assert sorted(run()) == sorted(
        [
            f"{mine} both both.sqlite3: {shared}",
            f"{mine} catalogue catalogue.sqlite3: moved",
            f"{mine} gone gone.sqlite3: not found in the shared folder either",
            f"{mine} grab {theirs}/theirs.sqlite3: left alone: not a file of the shared folder",
            f"{mine} sales reports/sales.sqlite3: moved",
            f"{mine} spaced my courses.sqlite3: left alone: the name is no longer allowed, it {sqlite_files.REFUSED}",
            f"{theirs} both both.sqlite3: {shared}",
        ]
    )
    assert (root / mine / "catalogue.sqlite3").is_file() and (root / mine / "catalogue.sqlite3-wal").is_file()
    assert (root / mine / "reports" / "sales.sqlite3").is_file()
    assert not (root / "catalogue.sqlite3").exists() and (root / "both.sqlite3").is_file()
    assert (root / theirs / "theirs.sqlite3").is_file() and not (root / mine / theirs).exists()
    assert f"{mine} catalogue catalogue.sqlite3: already in its account's folder" in run()
    connection = SqlConnection.objects.get(account=owner.account, name="catalogue")
    assert apply(owner, courses_plugin("catalogue")).status_code == 200
    response = owner.client.post("/api/v1/plugins/courses/test/", {}, format="json")
    assert response.json()["result"]["rows"] == [{"title": "Intro to AI"}, {"title": "Advanced AI"}]
    assert connection.database == "catalogue.sqlite3"
    assert os.path.isdir(root / mine)
