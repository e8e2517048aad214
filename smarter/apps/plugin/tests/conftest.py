"""Fixtures of the plugin tests: a real MariaDB target database, a SQLite one, an HTTP server."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smarter.apps.account import services as account_services
from smarter.apps.account.tests.factories import Persona
from smarter.apps.plugin.tests.servers import LoopbackServer, loopback_server

COURSES = [
    (1, "Intro to AI", "Machine learning and AI basics", 300),
    (2, "Advanced AI", "Deep learning, AI agents", 900),
    (3, "Web apps", "Build web applications", 200),
    (4, "Mobile apps", "iOS and Android", 400),
    (5, "Databases", "SQL and database design", 250),
    (6, "Naïve café ☕", "unicode title, web", 50),
]


def apply(persona: Persona, document: dict[str, Any]) -> Any:
    return persona.client.post("/api/v1/cli/apply/", data=json.dumps(document), content_type="application/json")


def manifest(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "smarter.sh/v1", "kind": kind, "metadata": {"name": name, **metadata}, "spec": spec}


def error_locs(response: Any) -> dict[str, str]:
    return {error["loc"]: error["msg"] for error in response.json().get("errors", [])}


@pytest.fixture
def private_hosts(smarter_settings: Any) -> Any:
    smarter_settings.allow_private_hosts = True
    return smarter_settings


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    with loopback_server() as server:
        yield server


@pytest.fixture
def mariadb_target() -> Iterator[dict[str, Any]]:
    """A throwaway database on the local MariaDB, with courses and a filler table; dropped after."""
    try:
        import MySQLdb
    except ImportError:
        pytest.skip("needs mysqlclient (MySQLdb) for MariaDB")
    try:
        admin = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", connect_timeout=2, charset="utf8mb4")
    except MySQLdb.Error as error:
        pytest.skip(f"needs MariaDB at 127.0.0.1:3306 (root, no password): {error}")
    name = f"plugin_target_{secrets.token_hex(4)}"
    cursor = admin.cursor()
    cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    cursor.execute(f"USE `{name}`")
    cursor.execute("CREATE TABLE courses (id INT PRIMARY KEY, title VARCHAR(100), description VARCHAR(200), cost INT)")
    cursor.executemany("INSERT INTO courses VALUES (%s, %s, %s, %s)", COURSES)
    cursor.execute("CREATE TABLE filler (n INT PRIMARY KEY)")
    cursor.executemany("INSERT INTO filler VALUES (%s)", [(n,) for n in range(200)])
    cursor.execute("CREATE TABLE x (id INT)")
    cursor.execute("INSERT INTO x VALUES (1)")
    admin.commit()
    try:
        yield {"database": name, "admin": admin}
    finally:
        cursor = admin.cursor()
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture
def postgres_target() -> Iterator[dict[str, Any]]:
    """A throwaway database on the local PostgreSQL (user postgres, trusted); dropped after."""
    import psycopg

    try:
        admin = psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True, connect_timeout=2
        )
    except psycopg.Error as error:
        pytest.skip(f"needs PostgreSQL at 127.0.0.1:5432 (user postgres, trusted): {error}")
    name = f"plugin_target_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=name, autocommit=True) as target:
        target.execute(
            "CREATE TABLE courses (id INT PRIMARY KEY, title VARCHAR(100), description VARCHAR(200), cost INT)"
        )
        with target.cursor() as cursor:
            cursor.executemany("INSERT INTO courses VALUES (%s, %s, %s, %s)", COURSES)
            target.execute("CREATE TABLE filler (n INT PRIMARY KEY)")
            cursor.executemany("INSERT INTO filler VALUES (%s)", [(n,) for n in range(200)])
        target.execute("CREATE TABLE x (id INT)")
        target.execute("INSERT INTO x VALUES (1)")
    try:
        yield {"database": name}
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def postgres_count(target: dict[str, Any], table: str) -> int:
    import psycopg

    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=target["database"]) as connection:
        row = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608 (test-owned names)
        assert row is not None
        return int(row[0])


def mariadb_count(target: dict[str, Any], table: str) -> int:
    cursor = target["admin"].cursor()
    target["admin"].commit()  # see rows committed by others since our snapshot
    cursor.execute(f"SELECT COUNT(*) FROM `{target['database']}`.`{table}`")  # noqa: S608 (test-owned names)
    return int(cursor.fetchone()[0])


@pytest.fixture
def plugin_data_root(smarter_settings: Any, tmp_path: Path) -> Path:
    """The server's plugin data folder (SMARTER_PLUGIN_DATA_DIR), empty."""
    root = tmp_path / "plugin-data"
    root.mkdir()
    smarter_settings.plugin_data_dir = str(root)
    return root


def courses_database(path: Path) -> Path:
    """A SQLite file at `path` with the courses, a 200-row filler table and a one-row table x."""
    path.parent.mkdir(parents=True, exist_ok=True)
    database = sqlite3.connect(path)
    database.execute("CREATE TABLE courses (id INTEGER PRIMARY KEY, title TEXT, description TEXT, cost INTEGER)")
    database.executemany("INSERT INTO courses VALUES (?, ?, ?, ?)", COURSES)
    database.execute("CREATE TABLE filler (n INTEGER PRIMARY KEY)")
    database.executemany("INSERT INTO filler VALUES (?)", [(n,) for n in range(200)])
    database.execute("CREATE TABLE x (id INTEGER)")
    database.execute("INSERT INTO x VALUES (1)")
    database.commit()
    database.close()
    return path


@pytest.fixture
def sqlite_dir(plugin_data_root: Path, owner: Persona) -> Path:
    """The owner's account folder in the plugin data folder, holding `courses.sqlite3`."""
    folder = plugin_data_root / owner.account.account_number
    courses_database(folder / "courses.sqlite3")
    return folder


def make_secret(persona: Persona, name: str, value: str) -> Any:
    return account_services.secret_create(account=persona.account, name=name, value=value)
