"""Running a guarded, bound query on a customer's database, read-only and bounded.

Each call opens its own connection to the customer database (never Django's), so the
platform's database session, its transaction and its privileges are never involved. Every
engine gets the same treatment: a read-only transaction, a statement timeout enforced by the
server (or, for SQLite, by a child process that is killed at the deadline: `sqlite_worker`), a row
cap and a byte cap on what comes back. A SQLite file is one of its own account's (`sqlite_files`).
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any

from smarter.apps.plugin import sqlite_files, sqlite_worker
from smarter.apps.plugin.sql_guard import BoundQuery
from smarter.lib.outbound import OutboundRefused, check_host
from smarter.lib.redaction import Redactor

# What one query may hand the model: larger results are cut (and say so).
MAX_RESULT_BYTES = 64 * 1024
HEALTH_TIMEOUT = 3.0
_MYSQL_TIMEOUT_ERRORS = {1969, 3024, 1907}  # MariaDB max_statement_time; MySQL max_execution_time


class SqlRunError(Exception):
    """A short, credential-free message the model (and the tester) can read."""


@dataclass(frozen=True)
class Target:
    """Everything needed to open a connection; the password is already revealed."""

    engine: str
    hostname: str
    port: int | None
    database: str
    username: str
    password: str
    timeout: float
    account_number: str = ""  # whose plugin data folder a SQLite `database` is in


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, datetime | date | time_of_day):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)[:1024].decode("utf-8", errors="replace")
    return str(value)


def _collect(cursor: Any, limit: int, max_bytes: int) -> dict[str, Any]:
    columns = [column[0] for column in cursor.description or []]
    rows: list[dict[str, Any]] = []
    size = 2
    truncated = False
    while True:
        batch = cursor.fetchmany(min(limit + 1 - len(rows), 100))
        if not batch:
            break
        for raw in batch:
            if len(rows) >= limit:
                truncated = True
                break
            row = {column: _json_safe(value) for column, value in zip(columns, raw, strict=False)}
            row_size = len(json.dumps(row, default=str).encode()) + 2  # with its ", " separator
            if size + row_size > max_bytes:
                truncated = True
                break
            size += row_size
            rows.append(row)
        if truncated or len(rows) >= limit + 1:
            break
    return {"columns": columns, "rows": rows, "rowCount": len(rows), "truncated": truncated}


def _scrub(message: str, target: Target) -> str:
    return Redactor.of(target.password).text(message)[:300]


# The driver of each network engine, and the extra of the `smarter` distribution that installs it.
DRIVERS = {"mysql": ("MySQLdb", "mysql"), "postgresql": ("psycopg", "postgres")}


def missing_driver(engine: str) -> str | None:
    """Why `engine` cannot be reached from this installation (its driver is not installed, as
    under `make run`, which installs no database driver), or None."""
    if engine not in DRIVERS:
        return None
    module, extra = DRIVERS[engine]
    try:
        importlib.import_module(module)
    except ImportError:
        return f"the {engine} driver is not installed on this server: install it with pip install 'smarter[{extra}]'"
    return None


def run_query(
    target: Target, bound: BoundQuery, values: list[Any], *, limit: int, max_bytes: int | None = None
) -> dict[str, Any]:
    max_bytes = max_bytes or MAX_RESULT_BYTES
    missing = missing_driver(target.engine)
    if missing is not None:
        raise SqlRunError(missing)
    runner = {"mysql": _run_mysql, "postgresql": _run_postgresql, "sqlite": _run_sqlite}[target.engine]
    return runner(target, bound, values, limit, max_bytes)


def ping(target: Target) -> None:
    """Open a connection and run SELECT 1 within a short timeout; raise SqlRunError if not."""
    quick = Target(**{**target.__dict__, "timeout": min(target.timeout, HEALTH_TIMEOUT)})
    bound = BoundQuery(text="SELECT 1", names=(), original="SELECT 1")
    run_query(quick, bound, [], limit=1)


# --- MySQL / MariaDB --------------------------------------------------------------------------
def _run_mysql(target: Target, bound: BoundQuery, values: list[Any], limit: int, max_bytes: int) -> dict[str, Any]:
    import MySQLdb
    import MySQLdb.cursors

    port = target.port or 3306
    try:
        address = check_host(target.hostname, port)
    except OutboundRefused as error:
        raise SqlRunError(str(error)) from None
    seconds = max(1, math.ceil(target.timeout))
    try:
        connection = MySQLdb.connect(
            host=address,
            port=port,
            user=target.username,
            passwd=target.password,
            db=target.database,
            connect_timeout=seconds,
            # a backstop if the server-side timeout is not honoured (e.g. network stall)
            read_timeout=seconds + 5,
            write_timeout=seconds + 5,
            charset="utf8mb4",
            cursorclass=MySQLdb.cursors.SSCursor,
        )
    except MySQLdb.Error as error:
        raise SqlRunError(f"could not connect to the database: {_scrub(_mysql_message(error), target)}") from None
    try:
        cursor = connection.cursor()
        # The handshake already told us the server's version: MariaDB and MySQL name their
        # statement timeouts differently (seconds vs milliseconds).
        if "mariadb" in connection.get_server_info().lower():
            cursor.execute("SET SESSION max_statement_time = %s", (float(target.timeout),))
        else:
            cursor.execute("SET SESSION max_execution_time = %s", (int(target.timeout * 1000),))
        # Every statement of the session is in this one read-only transaction.
        cursor.execute("START TRANSACTION READ ONLY")
        if bound.names:
            cursor.execute(bound.text, tuple(values))
        else:
            cursor.execute(bound.original)
        return _collect(cursor, limit, max_bytes)
    except MySQLdb.Error as error:
        code = error.args[0] if error.args else None
        if code in _MYSQL_TIMEOUT_ERRORS:
            raise SqlRunError(f"the query took longer than {target.timeout:g} s and was stopped") from None
        raise SqlRunError(f"the query failed: {_scrub(_mysql_message(error), target)}") from None
    finally:
        connection.close()


def _mysql_message(error: Exception) -> str:
    if len(error.args) >= 2:
        return f"({error.args[0]}) {error.args[1]}"
    return str(error)


# --- PostgreSQL -------------------------------------------------------------------------------
def _run_postgresql(target: Target, bound: BoundQuery, values: list[Any], limit: int, max_bytes: int) -> dict[str, Any]:
    import psycopg

    port = target.port or 5432
    try:
        address = check_host(target.hostname, port)
    except OutboundRefused as error:
        raise SqlRunError(str(error)) from None
    milliseconds = max(1, int(target.timeout * 1000))
    try:
        connection = psycopg.connect(
            host=target.hostname,
            hostaddr=address,  # connect to the checked address; host stays for TLS verification
            port=port,
            dbname=target.database,
            user=target.username,
            password=target.password,
            connect_timeout=max(1, math.ceil(target.timeout)),
            options=f"-c statement_timeout={milliseconds} -c default_transaction_read_only=on",
        )
    except psycopg.Error as error:
        raise SqlRunError(f"could not connect to the database: {_scrub(str(error), target)}") from None
    try:
        with connection.transaction():
            connection.execute("SET TRANSACTION READ ONLY")
            text = bound.original
            if bound.names:
                # The driver quotes each value (libpq escaping); the literal SQL then runs through
                # a server-side cursor, so a large result is fetched in batches, not all at once.
                text = psycopg.ClientCursor(connection).mogrify(bound.text, tuple(values))
            with connection.cursor(name="smarter_plugin") as cursor:
                cursor.execute(text)
                result = _collect(cursor, limit, max_bytes)
            raise _Rollback(result)
    except _Rollback as done:
        return done.result
    except psycopg.errors.QueryCanceled:
        raise SqlRunError(f"the query took longer than {target.timeout:g} s and was stopped") from None
    except psycopg.Error as error:
        raise SqlRunError(f"the query failed: {_scrub(str(error).splitlines()[0], target)}") from None
    finally:
        connection.close()


class _Rollback(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("rollback")
        self.result = result


# --- SQLite -----------------------------------------------------------------------------------
def _run_sqlite(target: Target, bound: BoundQuery, values: list[Any], limit: int, max_bytes: int) -> dict[str, Any]:
    try:
        path = sqlite_files.database_file(target.database, account_number=target.account_number)
    except (sqlite_files.DatabaseFileRefused, ValueError):
        raise SqlRunError(f"the connection's database {sqlite_files.REFUSED}") from None
    if not path.is_file():
        # Only ever about the account's own folder, so saying so reveals nothing of anyone else.
        raise SqlRunError(f"the database file {target.database} does not exist in your account's plugin data folder")
    try:
        answer = sqlite_worker.run(
            path=str(path),
            sql=bound.text,
            values=list(values),
            limit=limit,
            max_bytes=max_bytes,
            timeout=target.timeout,
        )
    except sqlite_worker.WorkerTimeout:
        raise SqlRunError(f"the query took longer than {target.timeout:g} s and was stopped") from None
    except sqlite_worker.WorkerFailed as error:
        raise SqlRunError(f"the query failed: {error}") from None
    if "result" in answer:
        result: dict[str, Any] = answer["result"]
        return result
    problem, message = answer.get("error"), str(answer.get("message", ""))
    if problem == "timeout":
        raise SqlRunError(f"the query took longer than {target.timeout:g} s and was stopped")
    if problem == "too_big":
        mib = sqlite_worker.MAX_VALUE_BYTES // 2**20
        raise SqlRunError(f"the query failed: a string or blob would exceed {mib} MiB, the most one value may hold")
    if problem == "open":
        raise SqlRunError(f"could not open the database: {message}")
    raise SqlRunError(f"the query failed: {message}")
