"""What the billing tests share: turning Celery's eager mode or a real broker on for one test,
a chatbot with a static plugin, and sums over turns and charges."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from smarter.celery import app
from smarter.testing.fixtures import worker_redis_url

STATIC_PLUGIN = {
    "apiVersion": "smarter.sh/v1",
    "kind": "Plugin",
    "metadata": {"name": "catalogue", "pluginClass": "static", "description": "Our product catalogue"},
    "spec": {
        "selector": {"directive": "always"},
        "data": {"description": "Facts about the Gizmo", "staticData": {"price": "$12.50", "colours": ["red"]}},
    },
}


def _reset_connections() -> None:
    # Forget the pools (not close them: kombu shares producer pools between users of a URL).
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def celery_mode(*, eager: bool, broker_url: str | None = None) -> Iterator[None]:
    """Run Celery tasks in the calling process (`eager`), or publish them to `broker_url`."""
    # The app reads Django's CELERY_* names first, so those are the keys to change.
    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf["CELERY_TASK_ALWAYS_EAGER"] = eager
    if broker_url is not None:
        app.conf["CELERY_BROKER_URL"] = broker_url
    _reset_connections()
    try:
        yield
    finally:
        app.conf["CELERY_TASK_ALWAYS_EAGER"], app.conf["CELERY_BROKER_URL"] = saved
        _reset_connections()


def apply(client: httpx.Client, manifest: dict[str, Any]) -> None:
    response = client.post("/api/v1/cli/apply/", json=manifest)
    assert response.status_code == 200, response.text


def make_chatbot(client: httpx.Client, name: str = "support", plugins: list[str] | None = None, **config: Any) -> None:
    apply(
        client,
        {
            "apiVersion": "smarter.sh/v1",
            "kind": "Chatbot",
            "metadata": {"name": name},
            "spec": {
                "config": {"defaultModel": "gpt-4o-mini", "defaultSystemRole": "You sell Gizmos.", **config},
                "plugins": plugins or [],
            },
        },
    )


# --- real services: a Celery worker process, and a Redis of our own --------------------------------
# The broker of the worker processes: this test process's Redis database.
WORKER_BROKER_URL = worker_redis_url()


def mariadb_url_or_skip() -> str:
    """The URL of the test database, for a worker process to share it; a skip on SQLite, whose
    in-memory test database no other process can open."""
    import pytest
    from django.db import connection

    if connection.vendor != "mysql":
        pytest.skip(
            "needs MariaDB: a Celery worker process must share the test database; "
            "run with SMARTER_DATABASE_URL=mysql://root@127.0.0.1:3306/smarter_billing"
        )
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"mysql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"


class Worker:
    """`celery -A smarter worker` as a subprocess on `broker_url`, sharing `database_url`."""

    def __init__(
        self,
        *,
        database_url: str,
        broker_url: str,
        concurrency: int = 2,
        env: dict[str, str] | None = None,
        include: tuple[str, ...] = (),
    ) -> None:
        self.database_url, self.broker_url, self.concurrency = database_url, broker_url, concurrency
        self.extra_env = env or {}
        self.include = include  # modules of tasks a test defines (`celery worker --include`)
        self.process: Any = None

    def start(self) -> Worker:
        import os
        import subprocess
        import sys
        from pathlib import Path

        env = {
            **os.environ,
            "SMARTER_DATABASE_URL": self.database_url,
            "SMARTER_REDIS_URL": self.broker_url,
            "SMARTER_LOG_FORMAT": "text",
            "SMARTER_LOG_LEVEL": "WARNING",
            **self.extra_env,
        }
        celery = str(Path(sys.executable).with_name("celery"))
        self.process = subprocess.Popen(
            [
                celery,
                "-A",
                "smarter",
                "worker",
                "--loglevel=WARNING",
                f"--concurrency={self.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-Q",
                "smarter",
                *((f"--include={','.join(self.include)}",) if self.include else ()),
            ],
            env=env,
            start_new_session=True,  # its own process group: the pool children die with it
        )
        return self

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once, mid-task."""
        import os
        import signal

        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        import os
        import signal
        import subprocess

        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


class RedisServer:
    """A redis-server of our own on a free port, without persistence, that a test may stop."""

    def __init__(self) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Any = None

    def start(self) -> RedisServer:
        import shutil
        import subprocess
        import time

        import pytest
        import redis

        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("needs redis-server on PATH to run a Redis of the test's own")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                return self
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def wait_until(predicate: Any, timeout: float = 60.0, interval: float = 0.05) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def record_usage_event(owner: Any, turn_id: int, *, prompt_tokens: int = 100, tools: int = 0) -> Any:
    """One turn's outbox row, as the pipeline writes it (call inside the turn's transaction)."""
    from django.utils import timezone

    from smarter.apps.account.billing import services
    from smarter.apps.account.billing.models import UsageEvent

    event_id = services.usage_event_record(
        account=owner.account,
        turn_id=turn_id,
        created_at=timezone.now(),
        user=owner.user,
        api_key=owner.api_key,
        chatbot_id=1,
        chatbot_name="support",
        session_key="s",
        channel="api",
        provider="openai",
        model="gpt-4o-mini",
        prompt_tokens=prompt_tokens,
        completion_tokens=turn_id,
        tools=[services.ToolUse(name=f"tool{n}", is_plugin=True) for n in range(tools)],
    )
    return UsageEvent.objects.get(pk=event_id)
