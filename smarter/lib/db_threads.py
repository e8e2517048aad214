"""Database work from async code (the chat doors and pipeline).

Each call runs in a worker thread, so a slow model call never holds a thread and turns never
queue behind each other. Worker threads keep their database connection between calls; it is
checked for staleness (the health ping of CONN_HEALTH_CHECKS) at most every few seconds per
thread rather than on every call, because the ping costs as much as a small query. SQLite takes
one writer at a time (the embedded default, and the in-memory test database, which raises
instead of waiting), so there the calls take a process-wide lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection

T = TypeVar("T")

CONNECTION_CHECK_INTERVAL_SECONDS = 5.0

_sqlite_writer = threading.Lock()
_thread_state = threading.local()


def _check_connections_now_and_then() -> None:
    now = time.monotonic()
    if now - getattr(_thread_state, "checked_at", 0.0) >= CONNECTION_CHECK_INTERVAL_SECONDS:
        close_old_connections()
        _thread_state.checked_at = now


async def in_db_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    def work() -> T:
        with _sqlite_writer if connection.vendor == "sqlite" else nullcontext():
            _check_connections_now_and_then()
            try:
                return function(*args, **kwargs)
            except Exception:
                # A failure may have left the connection unusable: check it on the next call.
                _thread_state.checked_at = 0.0
                raise

    return await sync_to_async(work, thread_sensitive=False)()
