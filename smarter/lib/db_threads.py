"""Database work from async code (the chat doors and pipeline).

Each call runs in a worker thread with a connection checked for staleness first, so a slow
model call never holds a thread and turns never queue behind each other. SQLite takes one
writer at a time (the embedded default, and the in-memory test database, which raises instead
of waiting), so there the calls take a process-wide lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection

T = TypeVar("T")

_sqlite_writer = threading.Lock()


async def in_db_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    def work() -> T:
        with _sqlite_writer if connection.vendor == "sqlite" else nullcontext():
            close_old_connections()
            return function(*args, **kwargs)

    return await sync_to_async(work, thread_sensitive=False)()
