"""`smarter eval` against the production column: the server queues the run on Redis and a real
Celery worker process asks its cases, so the client's start, its wait and its polling are
those a user sees (`make run` asks runs in the web process, where they finish at once)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smarter.apps.account.tests.billing_support import WORKER_BROKER_URL, Worker, celery_mode, mariadb_url_or_skip
from smarter.apps.evaluation.models import EvalRun
from smarter.testing.fixtures import flushed_redis_or_skip
from tests.conftest import MANIFESTS, RunCli, cli_command, cli_environment
from tests.test_eval_live import rows

FAST = {"SMARTER_CLI_POLL_SECONDS": "0.2"}
# The client these tests import: this checkout's, whichever one is installed.
CLIENT_PATH = str(Path(__file__).resolve().parents[1])


@pytest.fixture
def queued(as_owner: RunCli, plugin_data: Path) -> Iterator[RunCli]:
    """The suites applied, and runs published to Redis for a worker that is not started yet."""
    mariadb_url_or_skip()
    flushed_redis_or_skip(WORKER_BROKER_URL)
    for directory in (MANIFESTS / "chatbot_kinds", MANIFESTS / "eval_kinds"):
        assert as_owner("apply", "-f", str(directory)).code == 0
    with celery_mode(eager=False, broker_url=WORKER_BROKER_URL):
        yield as_owner


@pytest.fixture
def start_worker(plugin_data: Path) -> Iterator[Any]:
    """Starts a worker sharing the test database and the plugin data folder (the courses file)."""
    started: list[Worker] = []
    saved = os.environ.get("SMARTER_PLUGIN_DATA_DIR")

    def start() -> Worker:
        os.environ["SMARTER_PLUGIN_DATA_DIR"] = str(plugin_data)
        worker = Worker(database_url=mariadb_url_or_skip(), broker_url=WORKER_BROKER_URL, concurrency=1)
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop()
    if saved is None:
        os.environ.pop("SMARTER_PLUGIN_DATA_DIR", None)
    else:
        os.environ["SMARTER_PLUGIN_DATA_DIR"] = saved


def test_a_run_is_started_left_waited_for_in_vain_then_followed_until_a_worker_finished_it(
    queued: RunCli, start_worker: Any, pexpect: Any, cli_home: Path, server: Any
) -> None:
    started = queued("eval", "candy_golden", **FAST)

    run = EvalRun.objects.get()
    assert (started.code, started.stderr) == (0, "")
    assert started.out_lines == [
        f"Run {run.pk} of candy_golden queued.",
        f"Follow it with: smarter eval candy_golden --run {run.pk} --wait",
    ]

    # No worker yet: the wait gives up, and says the run goes on.
    impatient = queued("eval", "candy_golden", "--run", str(run.pk), "--wait", "--timeout", "1", **FAST)

    assert (impatient.code, impatient.stdout) == (1, "")
    assert impatient.stderr == (
        f"Run {run.pk} of candy_golden has not finished after 1 s (queued); it goes on: "
        f"smarter eval candy_golden --run {run.pk} --wait\n"
    )

    # In a terminal, the wait shows the run queued, then its cases asked, then the table.
    environment = cli_environment(
        cli_home,
        SMARTER_BASE_URL=server.url,
        SMARTER_API_KEY=server.owner.key,
        SMARTER_CLI_POLL_SECONDS="0.2",
        TERM="xterm-256color",
        PYTHONPATH=CLIENT_PATH,
    )
    command, *prefix = cli_command()
    child = pexpect.spawn(
        command,
        [*prefix, "eval", "candy_golden", "--run", str(run.pk), "--wait", "--timeout", "180"],
        env=environment,
        encoding="utf-8",
        timeout=180,
        dimensions=(40, 140),
    )
    child.expect_exact("Queued candy_golden")
    child.expect_exact("0/3")
    start_worker()
    child.expect_exact("cheap_courses   1         yes")
    child.expect_exact(f"Run {run.pk} of candy_golden: passed. 2 of 3 cases passed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    followed = queued("eval", "candy_golden", "--run", str(run.pk), "--wait", "--timeout", "180", **FAST)

    assert (followed.code, followed.stderr) == (0, "")
    assert [row[:3] for row in rows(followed.stdout)] == [
        ["price", "1", "yes"],
        ["cheap_courses", "1", "yes"],
        ["inventor", "1", "no"],
    ]
    assert followed.out_lines[-1].startswith(f"Run {run.pk} of candy_golden: passed. 2 of 3 cases passed")
    assert EvalRun.objects.count() == 1
