"""Blocking work from async code (the chat doors and pipeline), on two separate thread pools.

`in_db_thread` runs database trips: a few short statements on a nearby database. They run on a
small pool of their own (`SMARTER_DATABASE_THREADS` per process). Small, because Python runs one
thread at a time: threads beyond what keeps the database busy only contend for the interpreter
lock, and under 32 concurrent turns the default pool of six cost 10% more CPU per turn and
doubled the latency a turn added (docs/performance.md). A slow model call never holds a thread:
only the trips before and after it do.

`in_worker_thread` runs work that may wait long on something other than our database: a
plugin's query on a customer's database, its call to an HTTP API. It has a larger pool, so a
slow plugin never queues other turns' database trips behind it.

Worker threads keep their database connection between calls; it is checked for staleness (the
health ping of CONN_HEALTH_CHECKS) at most every few seconds per thread rather than on every
call, because the ping costs as much as a small query. SQLite takes one writer at a time (the
embedded default, and the in-memory test database, which raises instead of waiting), so there
the calls take a process-wide lock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection

T = TypeVar("T")

CONNECTION_CHECK_INTERVAL_SECONDS = 5.0
WORKER_THREADS = 32  # plugin calls wait on remote systems; their time limits bound each one

_sqlite_writer = threading.Lock()
_thread_state = threading.local()


class _Pools:
    """The two pools of this process, made on first use (a forked worker makes its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self.database: ThreadPoolExecutor | None = None
        self.worker: ThreadPoolExecutor | None = None

    def get(self) -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
        if self._pid != os.getpid() or self.database is None or self.worker is None:
            with self._lock:
                if self._pid != os.getpid() or self.database is None or self.worker is None:
                    self.database = ThreadPoolExecutor(settings.SMARTER.database_threads, "smarter-db")
                    self.worker = ThreadPoolExecutor(WORKER_THREADS, "smarter-worker")
                    self._pid = os.getpid()
        return self.database, self.worker


_pools = _Pools()


def _check_connections_now_and_then() -> None:
    now = time.monotonic()
    if now - getattr(_thread_state, "checked_at", 0.0) >= CONNECTION_CHECK_INTERVAL_SECONDS:
        close_old_connections()
        _thread_state.checked_at = now


def _guarded(function: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[], T]:
    def work() -> T:
        with _sqlite_writer if connection.vendor == "sqlite" else nullcontext():
            _check_connections_now_and_then()
            try:
                return function(*args, **kwargs)
            except Exception:
                # A failure may have left the connection unusable: check it on the next call.
                _thread_state.checked_at = 0.0
                raise

    return work


async def in_db_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` on the database pool: short database work only."""
    database, _ = _pools.get()
    return await sync_to_async(_guarded(function, args, kwargs), thread_sensitive=False, executor=database)()


async def in_worker_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` on the worker pool: work that may wait on remote systems."""
    _, worker = _pools.get()
    return await sync_to_async(_guarded(function, args, kwargs), thread_sensitive=False, executor=worker)()
