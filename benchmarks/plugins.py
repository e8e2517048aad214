"""Plugin selection time by plugin count, and SQL plugin overhead over the bare driver.

Run: `.venv/bin/python -m benchmarks.plugins`. Writes the "plugins" section of docs/performance.md.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarter.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

from benchmarks.report import write_section  # noqa: E402
from smarter.apps.account.models import Account  # noqa: E402
from smarter.apps.plugin.execution import plugin_execute  # noqa: E402
from smarter.apps.plugin.models import Plugin, SqlConnection  # noqa: E402
from smarter.apps.plugin.selection import select_plugins  # noqa: E402

WORDS = [
    "gobstopper", "invoice", "shipping", "warranty", "catalogue", "course", "refund", "booking",
    "weather", "inventory", "payroll", "ticket", "customer", "discount", "delivery", "subscription",
]  # fmt: skip
PROMPT = "Hello, could you tell me whether my last invoices were shipped and when the refund arrives?"
HISTORY = ["hi", "I ordered a gobstopper last week", "it never came", "the tracking number is 1234", "thanks"]


@dataclass
class BenchPlugin:
    name: str
    directive: str
    search_terms: list[str] = field(default_factory=list)


def plugins(count: int) -> list[BenchPlugin]:
    made = []
    for index in range(count):
        if index % 10 == 0:
            made.append(BenchPlugin(f"p{index}", "always"))
        else:
            terms = [f"{WORDS[index % len(WORDS)]}{index}", f"{WORDS[(index * 7) % len(WORDS)]} term{index}", "zzzz"]
            made.append(BenchPlugin(f"p{index}", "search_terms", terms))
    return made


def median_ms(action: Callable[[], Any], repeat: int) -> float:
    action()  # warm up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def selection_rows() -> list[str]:
    rows = []
    for count in (10, 100, 1000):
        chosen = plugins(count)
        ms = median_ms(lambda chosen=chosen: select_plugins(chosen, prompt=PROMPT, history=HISTORY), 50)
        rows.append(f"| {count:,} | {ms:.3f} ms | {ms * 1000 / count:.1f} µs |")
    return rows


QUERY = "SELECT id, title, cost FROM courses WHERE description LIKE {pattern} AND cost <= {max_cost} ORDER BY id"


def sql_plugin(connection: SqlConnection) -> Plugin:
    plugin = Plugin(
        name="bench",
        plugin_class="sql",
        data={
            "description": "bench",
            "sqlQuery": QUERY,
            "parameters": [
                {"name": "pattern", "type": "string", "required": True},
                {"name": "max_cost", "type": "number", "required": True},
            ],
            "limit": 50,
        },
    )
    plugin.sql_connection = connection
    return plugin


ARGUMENTS = {"pattern": "%AI%", "max_cost": 1000}


BENCH_ACCOUNT = "0000-0000-0000"


def sqlite_case(folder: Path) -> tuple[Callable[[], Any], Callable[[], Any]]:
    # A SQLite plugin reads only from its own account's folder of the plugin data folder.
    (folder / BENCH_ACCOUNT).mkdir()
    path = folder / BENCH_ACCOUNT / "bench.sqlite3"
    database = sqlite3.connect(path)
    database.execute("CREATE TABLE courses (id INTEGER PRIMARY KEY, title TEXT, description TEXT, cost INTEGER)")
    database.executemany(
        "INSERT INTO courses VALUES (?, ?, ?, ?)",
        [(n, f"Course {n}", "AI course" if n % 3 == 0 else "web course", n % 900) for n in range(2000)],
    )
    database.commit()
    database.close()
    settings.SMARTER = settings.SMARTER.overridden(plugin_data_dir=folder)
    account = Account(name="bench", account_number=BENCH_ACCOUNT)  # never saved: only its number is read
    connection = SqlConnection(account=account, name="bench", db_engine="sqlite", database="bench.sqlite3", timeout=5)
    plugin = sql_plugin(connection)

    def direct() -> Any:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return connection.execute(
                "SELECT id, title, cost FROM courses WHERE description LIKE ? AND cost <= ? ORDER BY id LIMIT 51",
                ("%AI%", 1000),
            ).fetchall()
        finally:
            connection.close()

    def through_plugin() -> Any:
        result = plugin_execute(plugin=plugin, arguments=ARGUMENTS)
        assert result.error is None, result.error
        return result

    return direct, through_plugin


def mariadb_case() -> tuple[Callable[[], Any], Callable[[], Any], Callable[[], None]] | None:
    try:
        import MySQLdb

        admin = MySQLdb.connect(host="127.0.0.1", user="root", connect_timeout=2, charset="utf8mb4")
    except Exception:
        return None
    name = f"plugin_bench_{secrets.token_hex(4)}"
    cursor = admin.cursor()
    cursor.execute(f"CREATE DATABASE `{name}`")
    cursor.execute(f"USE `{name}`")
    cursor.execute("CREATE TABLE courses (id INT PRIMARY KEY, title VARCHAR(100), description VARCHAR(200), cost INT)")
    cursor.executemany(
        "INSERT INTO courses VALUES (%s, %s, %s, %s)",
        [(n, f"Course {n}", "AI course" if n % 3 == 0 else "web course", n % 900) for n in range(2000)],
    )
    admin.commit()
    settings.SMARTER = settings.SMARTER.overridden(allow_private_hosts=True)
    plugin = sql_plugin(
        SqlConnection(
            name="bench", db_engine="mysql", hostname="127.0.0.1", port=3306, database=name, username="root", timeout=5
        )
    )

    def direct() -> Any:
        connection = MySQLdb.connect(host="127.0.0.1", user="root", db=name, charset="utf8mb4")
        try:
            cursor = connection.cursor()
            cursor.execute(
                "SELECT id, title, cost FROM courses WHERE description LIKE %s AND cost <= %s ORDER BY id LIMIT 51",
                ("%AI%", 1000),
            )
            return cursor.fetchall()
        finally:
            connection.close()

    def through_plugin() -> Any:
        result = plugin_execute(plugin=plugin, arguments=ARGUMENTS)
        assert result.error is None, result.error
        return result

    def drop() -> None:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()

    return direct, through_plugin, drop


def main() -> None:
    lines = [
        "## Plugins",
        "",
        "Selection (`select_plugins`) for one turn: a 90-character prompt and 5 earlier user messages;",
        "one plugin in ten is `always`, the rest have three search terms each (median of 50 runs).",
        "",
        "| plugins | per turn | per plugin |",
        "|---:|---:|---:|",
        *selection_rows(),
        "",
        "SQL plugin execution (`plugin_execute`: argument check, query guard, binding, new connection,",
        "read-only transaction, timeout, row/byte caps) against the same bound query run directly with",
        "the driver, also on a new connection each time; 2,000 rows, ~670 match (capped at 50).",
        "",
        "| engine | driver directly | through the plugin | overhead |",
        "|---|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        direct, through_plugin = sqlite_case(Path(folder))
        bare, plugged = median_ms(direct, 200), median_ms(through_plugin, 200)
        lines.append(f"| SQLite | {bare:.3f} ms | {plugged:.3f} ms | +{plugged - bare:.3f} ms |")
    maria = mariadb_case()
    if maria is None:
        lines.append("| MariaDB | not measured: no MariaDB on 127.0.0.1:3306 | | |")
    else:
        direct, through_plugin, drop = maria
        try:
            bare, plugged = median_ms(direct, 100), median_ms(through_plugin, 100)
            lines.append(f"| MariaDB | {bare:.3f} ms | {plugged:.3f} ms | +{plugged - bare:.3f} ms |")
        finally:
            drop()
    markdown = "\n".join(lines)
    write_section("plugins", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
