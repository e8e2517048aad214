"""SQLite plugin queries run in kept child processes (`sqlite_child.py`), killed at their deadline.

Why a process: see `sqlite_child`. A child serves one query at a time and is kept for the next
(starting one costs milliseconds; a query through a kept one costs a fraction of that). The child
stops an ordinary slow query itself at the deadline; if it has not answered GRACE_SECONDS later
it is inside one long function call, and it is killed. Children belong to the process that
started them: after a fork (gunicorn, Celery's prefork pool) the new process starts its own.
A child is stopped when its parent exits, since it reads end-of-file on its stdin.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from smarter.apps.plugin.sqlite_child import MAX_VALUE_BYTES

__all__ = ["MAX_VALUE_BYTES", "WorkerFailed", "WorkerTimeout", "run"]

CHILD = Path(__file__).with_name("sqlite_child.py")
GRACE_SECONDS = 0.5
MAX_IDLE = 4
_MAX_REPLY_BYTES = 64 * 1024 * 1024


class WorkerTimeout(Exception):
    """The child did not answer by the deadline and was killed."""


class WorkerFailed(Exception):
    """The child could not be started or stopped unexpectedly."""


class _Child:
    def __init__(self) -> None:
        # -I: no environment variables, user site or current folder; -S: no site-packages either.
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and file, no shell)
            [sys.executable, "-I", "-S", str(CHILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(self, request: dict[str, Any], deadline: float) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            stdin.flush()
        except OSError:
            raise WorkerFailed("the SQLite runner stopped unexpectedly") from None
        reply = bytearray()
        descriptor = stdout.fileno()
        # Raw reads with poll (select cannot watch a descriptor above 1023, which a busy server
        # reaches): a buffered readline could wait past the deadline.
        poller = select.poll()
        poller.register(descriptor, select.POLLIN)
        while not reply.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poller.poll(max(1, int(remaining * 1000))):
                raise WorkerTimeout
            chunk = os.read(descriptor, 65536)
            if not chunk or len(reply) + len(chunk) > _MAX_REPLY_BYTES:
                raise WorkerFailed("the SQLite runner stopped unexpectedly")
            reply += chunk
        answer: dict[str, Any] = json.loads(reply)
        return answer

    def stop(self) -> None:
        if self.alive:
            self.process.kill()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.process.wait()


_lock = threading.Lock()
_idle: list[_Child] = []


def _forget_after_fork() -> None:
    """A forked process (a gunicorn or Celery worker) starts its own children: the ones listed
    belong to its parent, and the lock may have been held by a thread that did not come along."""
    global _lock
    _lock = threading.Lock()
    _idle.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def _take() -> _Child:
    with _lock:
        while _idle:
            child = _idle.pop()
            if child.alive:
                return child
            child.stop()
    try:
        return _Child()
    except OSError:
        raise WorkerFailed("the SQLite runner could not be started") from None


def _give_back(child: _Child) -> None:
    with _lock:
        if len(_idle) < MAX_IDLE:
            _idle.append(child)
            return
    child.stop()


def run(*, path: str, sql: str, values: list[Any], limit: int, max_bytes: int, timeout: float) -> dict[str, Any]:
    """The child's answer: {"result": {...}} or {"error": kind, "message": ...} (see sqlite_child.run).

    Raises WorkerTimeout when the query had to be killed, WorkerFailed when the child failed.
    """
    request = {"path": path, "sql": sql, "values": values, "limit": limit, "maxBytes": max_bytes, "timeout": timeout}
    child = _take()
    try:
        answer = child.ask(request, time.monotonic() + timeout + GRACE_SECONDS)
    except BaseException:
        child.stop()
        raise
    _give_back(child)
    return answer
