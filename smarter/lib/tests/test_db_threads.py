"""The two thread pools of async code: short database trips, and work that waits on remote systems."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from django.conf import settings
from django.db import connection

from smarter.lib.db_threads import WORKER_THREADS, in_db_thread, in_worker_thread

pytestmark = pytest.mark.django_db(transaction=True)


def _thread_name(pause: float = 0.0) -> str:
    time.sleep(pause)
    return threading.current_thread().name


def test_database_trips_run_on_at_most_the_configured_number_of_threads() -> None:
    async def many_trips() -> set[str]:
        return set(await asyncio.gather(*(in_db_thread(_thread_name, 0.02) for _ in range(12))))

    names = asyncio.run(many_trips())
    assert all(name.startswith("smarter-db") for name in names)
    assert 1 <= len(names) <= settings.SMARTER.database_threads


def test_waiting_work_runs_on_the_larger_worker_pool() -> None:
    async def many_calls() -> set[str]:
        return set(await asyncio.gather(*(in_worker_thread(_thread_name, 0.05) for _ in range(8))))

    names = asyncio.run(many_calls())
    assert all(name.startswith("smarter-worker") for name in names)
    if connection.vendor != "sqlite":  # SQLite takes one writer at a time: there the calls queue
        assert len(names) == 8 <= WORKER_THREADS


def test_a_plugin_waiting_on_a_remote_system_does_not_hold_up_database_trips() -> None:
    release = threading.Event()
    plugins = settings.SMARTER.database_threads + 2
    under_way = threading.Semaphore(0)

    def plugin_call() -> None:
        under_way.release()
        release.wait(10)

    async def trip_while_plugins_wait() -> tuple[str, float]:
        waiting = [asyncio.ensure_future(in_worker_thread(plugin_call)) for _ in range(plugins)]
        # The plugin calls are under way before the trip is asked for (on SQLite, which queues
        # them behind one another, the first one).
        for _ in range(1 if connection.vendor == "sqlite" else plugins):
            assert await asyncio.to_thread(under_way.acquire, True, 5)
        started = time.monotonic()
        try:
            name = await asyncio.wait_for(in_db_thread(_thread_name), timeout=5)
        finally:
            release.set()
            await asyncio.gather(*waiting)
        return name, time.monotonic() - started

    if connection.vendor == "sqlite":
        # The embedded SQLite database takes one writer at a time, plugins included (they read
        # their connections and secrets): there the trip waits for the plugin to finish.
        with pytest.raises(TimeoutError):
            asyncio.run(trip_while_plugins_wait())
        return
    name, seconds = asyncio.run(trip_while_plugins_wait())
    assert name.startswith("smarter-db")
    assert seconds < 2
