"""SQL plugins against a real MariaDB database and a real SQLite file: binding, guard, timeouts, caps."""

from __future__ import annotations

import time
from typing import Any

import pytest

from smarter.apps.plugin import selectors, sql_runner, sqlite_files
from smarter.apps.plugin.execution import plugin_execute
from smarter.apps.plugin.models import Plugin
from smarter.apps.plugin.tests.conftest import apply, error_locs, manifest, mariadb_count, postgres_count

pytestmark = pytest.mark.django_db

SEARCH = (
    "SELECT id, title, cost FROM courses WHERE (title = {title} OR description LIKE CONCAT('%', {topic}, '%')) "
    "ORDER BY id"
)
PARAMETERS = [
    {"name": "title", "type": "string", "description": "exact title"},
    {"name": "topic", "type": "string", "description": "a word in the description"},
]
HOSTILE = [
    "' OR 1=1 --",
    "1; DROP TABLE x",
    "x' ; DROP TABLE courses; --",
    "\\'; DROP TABLE x; --",
    "☕" * 3,
    "a" * 10_000,
]


def mariadb_connection(database: str, timeout: float = 2) -> dict[str, Any]:
    return manifest(
        "SqlConnection",
        "target_db",
        {
            "connection": {
                "dbEngine": "mysql",
                "hostname": "127.0.0.1",
                "port": 3306,
                "database": database,
                "username": "root",
                "timeout": timeout,
            }
        },
    )


def sqlite_connection(timeout: float = 2) -> dict[str, Any]:
    return manifest(
        "SqlConnection",
        "target_db",
        {"connection": {"dbEngine": "sqlite", "database": "courses.sqlite3", "timeout": timeout}},
    )


def sql_plugin(query: str = SEARCH, parameters: list[dict[str, Any]] | None = None, limit: int = 10) -> dict[str, Any]:
    return manifest(
        "SqlPlugin",
        "courses",
        {
            "selector": {"directive": "always"},
            "connection": "target_db",
            "sqlData": {
                "description": "Find courses",
                "sqlQuery": query,
                "parameters": PARAMETERS if parameters is None else parameters,
                "testValues": [{"name": "topic", "value": "AI"}] if parameters is None else [],
                "limit": limit,
            },
        },
    )


def postgres_connection(database: str, timeout: float = 2) -> dict[str, Any]:
    return manifest(
        "SqlConnection",
        "target_db",
        {
            "connection": {
                "dbEngine": "postgresql",
                "hostname": "127.0.0.1",
                "port": 5432,
                "database": database,
                "username": "postgres",
                "timeout": timeout,
            }
        },
    )


@pytest.fixture(params=["mariadb", "sqlite", "postgresql"])
def engine(request: Any, owner: Any, private_hosts: Any) -> dict[str, Any]:
    """The same tests on both engines: `target` knows how to count rows of the target tables."""
    if request.param == "mariadb":
        target = request.getfixturevalue("mariadb_target")
        response = apply(owner, mariadb_connection(target["database"]))
        assert response.status_code == 200, response.json()
        return {"name": "mariadb", "count": lambda table: mariadb_count(target, table), "owner": owner}
    if request.param == "postgresql":
        target = request.getfixturevalue("postgres_target")
        response = apply(owner, postgres_connection(target["database"]))
        assert response.status_code == 200, response.json()
        return {"name": "postgresql", "count": lambda table: postgres_count(target, table), "owner": owner}
    folder = request.getfixturevalue("sqlite_dir")
    response = apply(owner, sqlite_connection())
    assert response.status_code == 200, response.json()
    import sqlite3

    def count(table: str) -> int:
        with sqlite3.connect(folder / "courses.sqlite3") as database:
            return int(database.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608

    assert response.status_code == 200
    return {"name": "sqlite", "count": count, "owner": owner}


def query_for(engine: dict[str, Any], query: str) -> str:
    # SQLite has no CONCAT before 3.44, and PostgreSQL's CONCAT skips NULLs (so a missing topic
    # would match everything); || propagates NULL on both.
    if engine["name"] in ("sqlite", "postgresql"):
        return query.replace("CONCAT('%', {topic}, '%')", "'%' || {topic} || '%'")
    return query


def plugin(engine: dict[str, Any], query: str = SEARCH, **kwargs: Any) -> Plugin:
    response = apply(engine["owner"], sql_plugin(query_for(engine, query), **kwargs))
    assert response.status_code == 200, response.json()
    found = selectors.plugin_get(account=engine["owner"].account, name="courses")
    assert found is not None
    return found


def test_a_bound_value_finds_only_matching_rows(engine: dict[str, Any]) -> None:
    result = plugin_execute(plugin=plugin(engine), arguments={"topic": "AI"})
    assert result.error is None
    assert [row["title"] for row in result.result["rows"]] == ["Intro to AI", "Advanced AI"]
    assert result.executed["parameters"] == [None, "AI"]
    marker = "?" if engine["name"] == "sqlite" else "%s"
    # shown as written, with the driver's markers (and no %-escaping) where the values were bound
    assert result.executed["sql"] == query_for(engine, SEARCH).replace("{title}", marker).replace("{topic}", marker)


def test_unicode_values_are_bound_and_matched(engine: dict[str, Any]) -> None:
    result = plugin_execute(plugin=plugin(engine), arguments={"title": "Naïve café ☕"})
    assert result.error is None
    assert result.result["rows"] == [{"id": 6, "title": "Naïve café ☕", "cost": 50}]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_values_match_nothing_and_leave_the_tables_intact(engine: dict[str, Any], hostile: str) -> None:
    result = plugin_execute(plugin=plugin(engine), arguments={"title": hostile})
    assert result.error is None, result.error
    assert result.result["rows"] == []
    assert engine["count"]("courses") == 6
    assert engine["count"]("x") == 1


def test_the_row_cap_holds_and_says_it_truncated(engine: dict[str, Any]) -> None:
    result = plugin_execute(
        plugin=plugin(engine, "SELECT n FROM filler ORDER BY n", parameters=[], limit=3), arguments={}
    )
    assert result.result["rows"] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert result.result["truncated"] is True


def test_the_byte_cap_holds(engine: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql_runner, "MAX_RESULT_BYTES", 200)
    result = plugin_execute(
        plugin=plugin(engine, "SELECT n FROM filler ORDER BY n", parameters=[], limit=1000), arguments={}
    )
    assert result.error is None
    assert result.result["truncated"] is True
    assert 0 < len(result.result["rows"]) < 30
    import json

    assert len(json.dumps(result.result["rows"])) <= 200


def test_a_slow_query_is_stopped_by_the_timeout(engine: dict[str, Any]) -> None:
    heavy = (
        "SELECT COUNT(*) AS c FROM filler a, filler b, filler c, filler d, filler e "
        "WHERE a.n + b.n + c.n + d.n + e.n = -1"
    )
    started = time.monotonic()
    result = plugin_execute(plugin=plugin(engine, heavy, parameters=[]), arguments={})
    elapsed = time.monotonic() - started
    assert result.error == "the query took longer than 2 s and was stopped"
    assert elapsed < 8


def test_a_write_cannot_happen_even_through_a_bound_statement(engine: dict[str, Any]) -> None:
    result = plugin_execute(plugin=plugin(engine), arguments={"topic": "'); DELETE FROM courses; --"})
    assert result.error is None
    assert engine["count"]("courses") == 6


def test_wrong_argument_types_and_unknown_arguments_are_errors_the_model_sees(engine: dict[str, Any]) -> None:
    found = plugin(engine)
    assert (
        plugin_execute(plugin=found, arguments={"topic": 5}).error
        == "argument 'topic' must be of type string, got integer"
    )
    assert (
        plugin_execute(plugin=found, arguments={"nope": 1}).error
        == "unknown argument 'nope'; expected one of: title, topic"
    )
    assert plugin_execute(plugin=found, arguments="x").error == "arguments must be a JSON object"


REFUSED = [
    ("SELECT 1; DROP TABLE x", "exactly one statement is allowed; found 2"),
    ("DELETE FROM courses", "only SELECT queries are allowed, not DELETE"),
    ("UPDATE courses SET cost = 0", "only SELECT queries are allowed, not UPDATE"),
    ("INSERT INTO x VALUES (2)", "only SELECT queries are allowed, not INSERT"),
    ("DROP TABLE x", "only SELECT queries are allowed, not DROP"),
    (
        "SELECT * FROM courses FOR UPDATE",
        "a locking clause (FOR UPDATE / FOR SHARE) is not allowed in a read-only query",
    ),
    (
        "SELECT * FROM courses LOCK IN SHARE MODE",
        "a locking clause (FOR UPDATE / FOR SHARE) is not allowed in a read-only query",
    ),
    ("SELECT id INTO @v FROM courses", "INTO is not allowed in a read-only query"),
    ("SELECT SLEEP(10)", "function SLEEP is not allowed"),
    ("SELECT BENCHMARK(100000000, MD5('a'))", "function BENCHMARK is not allowed"),
    ("SELECT LOAD_FILE('/etc/passwd')", "function LOAD_FILE is not allowed"),
    ("SELECT GET_LOCK('a', 10)", "function GET_LOCK is not allowed"),
    ("SELECT pg_sleep(10)", "function PG_SLEEP is not allowed"),
    ("SELECT 1 /*! ; DROP TABLE x */", "comments are not allowed in sqlQuery; describe the query in description"),
    ("SELECT 1 -- \n; DROP TABLE x", "comments are not allowed in sqlQuery; describe the query in description"),
    ("WITH d AS (DELETE FROM x RETURNING *) SELECT * FROM d", None),
    (
        "SELECT * FROM courses WHERE title = '{title}'",
        "a {placeholder} may not appear inside a string; write it bare, the value is bound",
    ),
    ("SELECT * FROM courses WHERE title = {nope}", "{nope} is not declared in parameters"),
    ("SELEC * FROM courses", None),
]


@pytest.mark.parametrize(("query", "problem"), REFUSED)
def test_unsafe_queries_are_refused_at_apply_and_nothing_is_stored(
    engine: dict[str, Any], query: str, problem: str | None
) -> None:
    response = apply(engine["owner"], sql_plugin(query))
    assert response.status_code == 400, response.json()
    locs = error_locs(response)
    assert list(locs) == ["spec.sqlData.sqlQuery"]
    if problem is not None:
        assert locs["spec.sqlData.sqlQuery"] == problem
    else:
        assert locs["spec.sqlData.sqlQuery"]
    assert Plugin.objects.count() == 0


def test_a_refused_update_keeps_the_previous_query(engine: dict[str, Any]) -> None:
    plugin(engine)
    response = apply(engine["owner"], sql_plugin("SELECT 1; DROP TABLE x"))
    assert response.status_code == 400
    stored = Plugin.objects.get(name="courses")
    assert stored.data["sqlQuery"] == query_for(engine, SEARCH)


def test_the_sqlite_database_must_live_in_the_plugin_data_folder(owner: Any, sqlite_dir: Any) -> None:
    document = sqlite_connection()
    document["spec"]["connection"]["database"] = "../../etc/passwd"
    response = apply(owner, document)
    assert response.status_code == 400
    assert error_locs(response) == {"spec.connection.database": sqlite_files.REFUSED}


def test_the_sqlite_database_is_opened_read_only(owner: Any, sqlite_dir: Any, private_hosts: Any) -> None:
    # A read-only open refuses writes even if a statement got past the guard: prove it at the driver.
    from smarter.apps.plugin import sql_runner
    from smarter.apps.plugin.sql_guard import BoundQuery

    target = sql_runner.Target("sqlite", "", None, "courses.sqlite3", "", "", 2, owner.account.account_number)
    with pytest.raises(sql_runner.SqlRunError, match=r"readonly|read-only|attempt to write"):
        sql_runner.run_query(target, BoundQuery("DELETE FROM x", (), "DELETE FROM x"), [], limit=5)
    with pytest.raises(sql_runner.SqlRunError):
        sql_runner.run_query(target, BoundQuery("DROP TABLE x", (), "DROP TABLE x"), [], limit=5)


def test_the_mariadb_session_is_read_only(mariadb_target: Any, private_hosts: Any) -> None:
    from smarter.apps.plugin import sql_runner
    from smarter.apps.plugin.sql_guard import BoundQuery

    target = sql_runner.Target("mysql", "127.0.0.1", 3306, mariadb_target["database"], "root", "", 2)
    with pytest.raises(sql_runner.SqlRunError, match="READ ONLY"):
        sql_runner.run_query(target, BoundQuery("DELETE FROM x", (), "DELETE FROM x"), [], limit=5)
    assert mariadb_count(mariadb_target, "x") == 1


def test_the_platform_database_host_is_refused_unless_private_hosts_are_allowed(
    owner: Any, mariadb_target: Any, smarter_settings: Any
) -> None:
    smarter_settings.allow_private_hosts = False
    response = apply(owner, mariadb_connection(mariadb_target["database"]))
    assert response.status_code == 400
    assert error_locs(response) == {
        "spec.connection.hostname": "127.0.0.1 may not be reached: 127.0.0.1 is a loopback address"
    }


def test_the_postgresql_transaction_is_read_only(postgres_target: Any, private_hosts: Any) -> None:
    from smarter.apps.plugin import sql_runner
    from smarter.apps.plugin.sql_guard import BoundQuery

    target = sql_runner.Target("postgresql", "127.0.0.1", 5432, postgres_target["database"], "postgres", "", 2)
    probe = "SELECT current_setting('transaction_read_only') AS ro"
    assert sql_runner.run_query(target, BoundQuery(probe, (), probe), [], limit=5)["rows"] == [{"ro": "on"}]
    with pytest.raises(sql_runner.SqlRunError, match="syntax error"):
        # the query runs as a server-side cursor, which only a SELECT can be
        sql_runner.run_query(target, BoundQuery("DELETE FROM x", (), "DELETE FROM x"), [], limit=5)
    assert postgres_count(postgres_target, "x") == 1


def test_a_database_host_allowed_at_apply_is_refused_at_run_time_once_disallowed(
    owner: Any, mariadb_target: Any, private_hosts: Any
) -> None:
    assert apply(owner, mariadb_connection(mariadb_target["database"])).status_code == 200
    assert apply(owner, sql_plugin()).status_code == 200
    private_hosts.allow_private_hosts = False
    found = selectors.plugin_get(account=owner.account, name="courses")
    assert found is not None
    result = plugin_execute(plugin=found, arguments={"topic": "AI"})
    assert result.error == "127.0.0.1 may not be reached: 127.0.0.1 is a loopback address"
