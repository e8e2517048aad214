"""The child process that runs SQLite plugin queries, so that every query can be stopped on time.

SQLite calls its progress handler (and honours `sqlite3_interrupt`) only between instructions of
its virtual machine, never inside one function call: `printf('%.*c', 900000000, 'x')`, or
`ltrim(X, Y)`, `instr(X, Y)` and `replace(X, Y, Z)` over long strings, spend seconds to hours in a
single call. A process, though, can always be stopped: `sqlite_worker` kills this one when the
deadline has passed. Inside it, the progress handler still stops ordinary slow queries at the
deadline (the child then lives on for the next query), strings and blobs are capped at
MAX_VALUE_BYTES so that the size-driven forms fail at once, and the address space is capped so a
query cannot take the host's memory.

Standard library only, run as `python -I -S <this file>`: it imports nothing of the platform and
starts in milliseconds. Protocol: one JSON request per line on stdin, one JSON reply per line on
stdout; it exits when stdin closes (its parent is gone).
"""

from __future__ import annotations

import json
import math
import resource
import sqlite3
import sys
import time
from typing import Any
from urllib.parse import quote

MAX_VALUE_BYTES = 16 * 1024 * 1024
MAX_MEMORY_BYTES = 512 * 1024 * 1024
PROGRESS_INSTRUCTIONS = 1000


def json_safe(value: Any) -> Any:
    """SQLite's five storage classes as JSON values, the way sql_runner shows other engines' values."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)[:1024].decode("utf-8", errors="replace")
    return value


def collect(cursor: sqlite3.Cursor, limit: int, max_bytes: int) -> dict[str, Any]:
    """At most `limit` rows and `max_bytes` of JSON, with `truncated` when cut (as sql_runner does)."""
    columns = [column[0] for column in cursor.description or []]
    rows: list[dict[str, Any]] = []
    size = 2
    truncated = False
    while not truncated:
        batch = cursor.fetchmany(min(limit + 1 - len(rows), 100))
        if not batch:
            break
        for raw in batch:
            if len(rows) >= limit:
                truncated = True
                break
            row = {column: json_safe(value) for column, value in zip(columns, raw, strict=False)}
            row_size = len(json.dumps(row, default=str).encode()) + 2  # with its ", " separator
            if size + row_size > max_bytes:
                truncated = True
                break
            size += row_size
            rows.append(row)
    return {"columns": columns, "rows": rows, "rowCount": len(rows), "truncated": truncated}


def _code(error: sqlite3.Error) -> int:
    return int(getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF  # the primary code of an extended one


def run(request: dict[str, Any]) -> dict[str, Any]:
    """One query: {"result": {...}} or {"error": open|timeout|too_big|failed, "message": ...}."""
    timeout = float(request["timeout"])
    deadline = time.monotonic() + timeout
    try:
        connection = sqlite3.connect(
            f"file:{quote(request['path'])}?mode=ro", uri=True, timeout=timeout, isolation_level=None
        )
    except sqlite3.Error as error:
        return {"error": "open", "message": str(error)}
    try:
        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        # Returning non-zero aborts the running statement: SQLite's own statement timeout.
        connection.set_progress_handler(lambda: int(time.monotonic() > deadline), PROGRESS_INSTRUCTIONS)
        connection.execute("PRAGMA query_only = ON")
        cursor = connection.execute(request["sql"], request["values"])
        return {"result": collect(cursor, int(request["limit"]), int(request["maxBytes"]))}
    except sqlite3.Error as error:
        code = _code(error)
        if code == sqlite3.SQLITE_INTERRUPT:
            return {"error": "timeout", "message": str(error)}
        if code == sqlite3.SQLITE_TOOBIG:
            return {"error": "too_big", "message": str(error)}
        return {"error": "failed", "message": str(error)}
    except MemoryError:
        return {"error": "failed", "message": "out of memory"}
    except (OverflowError, ValueError, TypeError) as error:
        return {"error": "failed", "message": str(error) or type(error).__name__}
    finally:
        connection.close()


def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = MAX_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(MAX_MEMORY_BYTES, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    while line := sys.stdin.buffer.readline():
        try:
            reply = run(json.loads(line))
        except Exception as error:  # a bad request is the parent's bug: say so, and keep serving
            reply = {"error": "failed", "message": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
