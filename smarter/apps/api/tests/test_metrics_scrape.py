"""`/metrics` as an operator's Prometheus scrapes it: the platform served by gunicorn with two
uvicorn worker processes (as the image runs it), a scripted set of turns through the OpenAI door,
and the scrape's exact counts, whichever worker answered each request and each scrape.

The upstream model is the OpenAI stub on loopback; the database is the test's MariaDB and the
broker the test's Redis (no Celery worker consumes it, so the turns' charges wait there: the
queue-depth and outbox gauges show them).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from smarter import __version__
from smarter.apps.account.billing.models import UsageEvent
from smarter.apps.account.models import Role
from smarter.apps.account.pricing import token_cost
from smarter.apps.account.tests.billing_support import Worker, mariadb_url_or_skip, wait_until
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import Turn
from smarter.testing.fixtures import flushed_redis_or_skip, worker_redis_url
from smarter.testing.openai_stub import OpenAIStub, error_reply, text_reply, tool_calls_reply

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-token-0123456789abcdef"
COMPLETIONS = "/api/v1/openai/chat/completions"
MODEL = "gpt-4o-mini"  # priced by the default price table: a label by its name


class _PortTaken(RuntimeError):
    pass


class Gunicorn:
    """`gunicorn smarter.asgi:application` with uvicorn workers, as the image's command runs it."""

    def __init__(self, env: dict[str, str], workers: int = 2) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.env, self.workers = env, workers
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Gunicorn:
        # The free port may be taken by another test process before gunicorn binds it: then
        # gunicorn exits, and another port is tried.
        for _ in range(3):
            try:
                return self._start()
            except _PortTaken:
                self.port = Gunicorn({}).port
                self.url = f"http://127.0.0.1:{self.port}"
        raise RuntimeError("gunicorn found no free port")

    def _start(self) -> Gunicorn:
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.process = subprocess.Popen(
            [
                gunicorn,
                "smarter.asgi:application",
                "--config=python:smarter.gunicorn_conf",
                "--worker-class=uvicorn_worker.UvicornWorker",
                f"--workers={self.workers}",
                f"--bind=127.0.0.1:{self.port}",
                "--log-level=warning",
                "--graceful-timeout=5",
            ],
            env={**os.environ, **self.env},
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise _PortTaken(f"gunicorn exited with {self.process.returncode}")
            try:
                # Our server, not another test's on a reused port: only ours knows this token.
                answer = httpx.get(f"{self.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2)
                if answer.status_code == 200 and self.process.poll() is None:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start in time")

    def stop(self) -> None:
        import signal

        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


def stale_counts(directory: Path) -> None:
    """What a previous run of the server left in the directory: 1000 turns from another pid."""
    code = "from smarter.lib import metrics; metrics.turns.labels('openai', 'gpt-4o-mini', 'openai', 'ok').inc(1000)"
    subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "DJANGO_SETTINGS_MODULE": "smarter.settings"},
        check=True,
        timeout=120,
    )
    assert [name for name in os.listdir(directory) if name.startswith("counter_")]


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[Gunicorn, OpenAIStub, str]]:
    database_url = mariadb_url_or_skip()
    broker = flushed_redis_or_skip(worker_redis_url())
    directory = tmp_path / "prometheus"
    directory.mkdir()
    stale_counts(directory)
    with OpenAIStub() as stub:
        server = Gunicorn(
            {
                "SMARTER_DATABASE_URL": database_url,
                "SMARTER_REDIS_URL": broker,
                "SMARTER_LLM_PROVIDER": "openai",
                "SMARTER_OPENAI_BASE_URL": stub.url,
                "SMARTER_OPENAI_API_KEY": "sk-platform",
                "SMARTER_ALLOW_PRIVATE_HOSTS": "true",
                "SMARTER_METRICS_TOKEN": TOKEN,
                "SMARTER_RATE_LIMIT_API_KEY_PER_MINUTE": "4",
                "SMARTER_LOG_LEVEL": "WARNING",
                "PROMETHEUS_MULTIPROC_DIR": str(directory),
            }
        )
        try:
            yield server.start(), stub, broker
        finally:
            server.stop()


def _apply(url: str, persona: Persona, manifest: dict[str, Any]) -> None:
    response = httpx.post(
        f"{url}/api/v1/cli/apply/", json=manifest, headers={"Authorization": f"Token {persona.key}"}, timeout=30
    )
    assert response.status_code == 200, response.text


def _set_up(url: str, owner: Persona) -> None:
    _apply(
        url,
        owner,
        {
            "apiVersion": "smarter.sh/v1",
            "kind": "Plugin",
            "metadata": {"name": "gobstopper", "pluginClass": "static", "description": "Gobstopper facts."},
            "spec": {
                "selector": {"directive": "always"},
                "data": {"description": "Facts about the gobstopper.", "staticData": {"price": "$1.00"}},
            },
        },
    )
    _apply(
        url,
        owner,
        {
            "apiVersion": "smarter.sh/v1",
            "kind": "Chatbot",
            "metadata": {"name": "support"},
            "spec": {"config": {"defaultModel": MODEL}, "plugins": ["gobstopper"]},
        },
    )


def _ask(url: str, owner: Persona, *, stream: bool = False) -> httpx.Response:
    body = {"model": "support", "messages": [{"role": "user", "content": "How much is it?"}], "stream": stream}
    return httpx.post(f"{url}{COMPLETIONS}", json=body, headers={"Authorization": f"Bearer {owner.key}"}, timeout=30)


def test_a_scrape_counts_every_worker_process_exactly(platform: tuple[Gunicorn, OpenAIStub, str]) -> None:
    server, stub, broker = platform
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    _set_up(server.url, owner)
    stub.enqueue(
        text_reply("One dollar.", prompt_tokens=11, completion_tokens=3),  # 1: JSON
        text_reply("One dollar, streamed.", prompt_tokens=13, completion_tokens=5),  # 2: a stream
        tool_calls_reply(
            ("gobstopper", {"inquiry_type": "price"}), prompt_tokens=17, completion_tokens=7
        ),  # 3: a tool call...
        text_reply("It costs $1.00.", prompt_tokens=19, completion_tokens=2),  # ...and its answer
        error_reply(500, "the model is down"),  # 4: an upstream failure
    )
    assert _ask(server.url, owner).status_code == 200
    streamed = _ask(server.url, owner, stream=True)
    assert streamed.status_code == 200 and "data: [DONE]" in streamed.text
    assert _ask(server.url, owner).json()["choices"][0]["message"]["content"] == "It costs $1.00."
    assert _ask(server.url, owner).status_code == 502
    refused = _ask(server.url, owner)  # the fifth within the minute, over the key's 4
    assert refused.status_code == 429 and refused.json()["errorClass"] == "RateLimited"

    # Many requests at once, each on a new connection: both workers answer some of them.
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: httpx.get(f"{server.url}/healthz", timeout=10).status_code, range(64)))
    assert statuses == [200] * 64
    pids = {name.rsplit("_", 1)[1] for name in os.listdir(server.env["PROMETHEUS_MULTIPROC_DIR"])}
    assert len(pids) >= 2, pids

    turns = list(Turn.objects.order_by("id").values_list("prompt_tokens", "completion_tokens", "status"))
    assert turns == [(11, 3, "ok"), (13, 5, "ok"), (36, 9, "ok"), (0, 0, "error")]
    cost = sum((token_cost(model=MODEL, prompt_tokens=p, completion_tokens=c) for p, c, _ in turns), Decimal(0))
    assert cost > 0

    waiting = redis.Redis.from_url(broker).llen("smarter")  # the charges' tasks (a batch may take several)
    assert waiting >= 1
    # Whichever worker answers the scrape, the numbers are the same: every process's samples.
    found = [scrape(server.url) for _ in range(6)]
    labels = {"provider": "openai", "model": MODEL}
    for one in found:
        assert value(one, "smarter_turns_total", **labels, channel="openai", outcome="ok") == 3  # not 1003
        assert value(one, "smarter_turns_total", **labels, channel="openai", outcome="error") == 1
        assert value(one, "smarter_turn_duration_seconds_count", **labels) == 4
        assert value(one, "smarter_llm_requests_total", **labels, outcome="ok") == 4
        assert value(one, "smarter_llm_requests_total", **labels, outcome="error") == 1
        assert value(one, "smarter_llm_request_duration_seconds_count", **labels) == 5
        assert value(one, "smarter_llm_time_to_first_token_seconds_count", **labels) == 1
        assert value(one, "smarter_tokens_total", **labels, direction="input") == 11 + 13 + 36
        assert value(one, "smarter_tokens_total", **labels, direction="output") == 3 + 5 + 9
        assert value(one, "smarter_cost_usd_total", **labels) == pytest.approx(float(cost))
        assert value(one, "smarter_plugin_calls_total", plugin_class="static", outcome="ok") == 1
        assert value(one, "smarter_plugin_duration_seconds_count", plugin_class="static") == 1
        assert value(one, "smarter_rate_limit_refusals_total", limit="api_key") == 1
        openai = {"door": "openai", "method": "POST"}
        assert value(one, "smarter_http_requests_total", **openai, status="2xx") == 3
        assert value(one, "smarter_http_requests_total", **openai, status="5xx") == 1
        assert value(one, "smarter_http_requests_total", **openai, status="4xx") == 1
        assert value(one, "smarter_http_requests_total", door="api", method="POST", status="2xx") == 2
        assert value(one, "smarter_http_request_duration_seconds_count", door="openai") == 5
        # The turns' charges wait on the broker, no worker taking them: queue and outbox show them.
        assert value(one, "smarter_celery_queue_depth", queue="smarter") == waiting
        assert value(one, "smarter_billing_outbox_pending") == 4
        assert value(one, "smarter_billing_outbox_lag_seconds") > 0
        assert value(one, "smarter_build_info", version=__version__) == 1
    assert UsageEvent.objects.filter(status=UsageEvent.Status.PENDING).count() == 4
    # The probes and scrapes are requests too, each counted once by the worker that answered it:
    # the scrape that saw the server start, the 64 probes, and the 6 scrapes before this one.
    later = scrape(server.url)
    assert value(later, "smarter_http_requests_total", door="other", method="GET", status="2xx") == 1 + 64 + 6


def test_a_celery_worker_serves_its_own_metrics_with_the_same_token(
    platform: tuple[Gunicorn, OpenAIStub, str],
) -> None:
    server, stub, broker = platform
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    _set_up(server.url, owner)
    stub.enqueue(text_reply("One.", prompt_tokens=5, completion_tokens=1), text_reply("Two.", prompt_tokens=5))
    assert _ask(server.url, owner).status_code == _ask(server.url, owner).status_code == 200
    assert value(scrape(server.url), "smarter_billing_outbox_pending") == 2

    port = Gunicorn({}).port  # a free port
    worker = Worker(
        database_url=server.env["SMARTER_DATABASE_URL"],
        broker_url=broker,
        env={
            "SMARTER_METRICS_TOKEN": TOKEN,
            "SMARTER_WORKER_METRICS_PORT": str(port),
            "PROMETHEUS_MULTIPROC_DIR": server.env["PROMETHEUS_MULTIPROC_DIR"] + "-worker",
        },
    )
    os.mkdir(worker.extra_env["PROMETHEUS_MULTIPROC_DIR"])
    worker.start()
    try:
        worker_url = f"http://127.0.0.1:{port}"

        seen: list[str] = []

        def drained() -> bool:
            try:
                found = scrape(worker_url)
            except httpx.HTTPError as error:
                seen[:] = [f"not listening yet: {error!r}"]
                return False
            pending = value(found, "smarter_billing_outbox_pending")
            waiting = value(found, "smarter_celery_queue_depth", queue="smarter")
            seen[:] = [f"pending {pending}, waiting {waiting}"]
            return pending == waiting == 0

        assert wait_until(drained, timeout=120), seen
        assert httpx.get(f"{worker_url}/metrics", timeout=10).status_code == 401
        wrong = httpx.get(f"{worker_url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert httpx.get(f"{worker_url}/other", timeout=10).status_code == 404
    finally:
        worker.stop()
    # The web's scrape agrees: the charges are written.
    assert value(scrape(server.url), "smarter_billing_outbox_pending") == 0
