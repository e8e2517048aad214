"""Evaluation runs: how fast a suite of 100 cases runs against an upstream that takes 50 ms,
and what the platform spends per case, at several case concurrencies.

Run: `.venv/bin/python -m benchmarks.evaluation [--quick]`. Writes the "evaluation" section of
docs/performance.md.

The production column: MariaDB (database `smarter_bench_evaluation`, created, migrated and
dropped here) and a redis-server of its own on a free port: the rate limits, and the broker the
turns' usage events are published to. No billing worker runs, so charges are not written and
their cost is not in the figures. The upstream is the stub as a process of its own (`python -m
smarter.testing.openai_stub --delay-ms 50`), so its CPU is not counted. Each run is a fresh
account's run of a 100-case suite (one prompt each, scored by `contains` and, for half, `rouge`),
run by `run_evaluation` in this process as a Celery worker would: its wall time, cases per
second, and this process's CPU time (user + system, every thread) divided by the cases. Each
concurrency is measured `--repeat` times, interleaved, and the median reported. A fresh account
per run keeps every run under the default evaluation rate limit (300 turns a minute per account):
the limit is a policy, not the runner's speed.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import write_section

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "smarter_bench_evaluation"
MARIADB = ("127.0.0.1", 3306)
UPSTREAM_DELAY_MS = 50
CASES = 100
CONCURRENCIES = (1, 4, 8, 16)
LIMIT_SECONDS = 120.0  # a run of the 100 cases must finish within this


def _answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_redis() -> tuple[subprocess.Popen[bytes], str]:
    """A Redis of the benchmark's own: on a shared machine, no one else's database is touched."""
    port = _free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while not _answers("127.0.0.1", port):
        if time.monotonic() > deadline:
            server.kill()
            sys.exit("redis-server did not start")
        time.sleep(0.05)
    return server, f"redis://127.0.0.1:{port}/0"


def _start_stub() -> tuple[subprocess.Popen[str], str]:
    stub = subprocess.Popen(
        [sys.executable, "-m", "smarter.testing.openai_stub", "--port", "0", "--delay-ms", str(UPSTREAM_DELAY_MS)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert stub.stdout is not None
    line = stub.stdout.readline().strip()  # "openai-stub listening on http://127.0.0.1:N/v1"
    if "listening on" not in line:
        stub.kill()
        sys.exit(f"the stub did not start: {line!r}")
    return stub, line.rsplit(" ", 1)[1]


def _setup(stub_url: str, redis_url: str) -> None:
    if not _answers(*MARIADB):
        sys.exit("needs MariaDB on 127.0.0.1:3306")
    import MySQLdb

    server = MySQLdb.connect(host=MARIADB[0], port=MARIADB[1], user="root")
    server.cursor().execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    server.cursor().execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    server.close()
    os.environ.update(
        {
            "SMARTER_DATABASE_URL": f"mysql://root@{MARIADB[0]}:{MARIADB[1]}/{DATABASE}",
            "SMARTER_REDIS_URL": redis_url,
            "SMARTER_LLM_PROVIDER": "openai",
            "SMARTER_OPENAI_BASE_URL": stub_url,
            "SMARTER_OPENAI_API_KEY": "sk-bench",
            "SMARTER_ALLOW_PRIVATE_HOSTS": "true",
            "DJANGO_SETTINGS_MODULE": "smarter.settings",
        }
    )
    os.environ.setdefault("SMARTER_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _teardown() -> None:
    from django.db import connections

    connections.close_all()
    import MySQLdb

    server = MySQLdb.connect(host=MARIADB[0], port=MARIADB[1], user="root")
    server.cursor().execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    server.close()


def suite_cases(count: int) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for number in range(count):
        case: dict[str, Any] = {"name": f"case_{number:03d}", "prompt": f"Question {number}: who answers?"}
        if number % 2:
            case.update(expected="Hello from the Smarter stub model.", scorers=["rouge"], mustContain=["Smarter"])
        else:
            case["mustContain"] = ["Smarter"]
        cases.append(case)
    return cases


@dataclass
class Measured:
    concurrency: int
    wall: float
    cpu: float
    status: str
    completed: int

    @property
    def cases_per_second(self) -> float:
        return self.completed / self.wall

    @property
    def cpu_ms_per_case(self) -> float:
        return self.cpu / self.completed * 1000


_runs = 0


def one_run(concurrency: int, cases: list[dict[str, Any]]) -> Measured:
    """A fresh account's suite, queued, then run here with `concurrency` cases at once."""
    global _runs
    from django.conf import settings
    from django.contrib.auth.models import User

    from smarter.apps.account import services as account_services
    from smarter.apps.chatbot.services import chatbot_create
    from smarter.apps.evaluation import services
    from smarter.apps.evaluation.models import EvalRun
    from smarter.apps.evaluation.runner import run_evaluation

    _runs += 1
    account = account_services.account_create(company_name=f"Bench {_runs}")
    user = User.objects.create(username=f"bench{_runs}")
    chatbot = chatbot_create(
        account=account, name="support", plugins=[], default_model="gpt-4o-mini", default_system_role="Be brief."
    )
    suite = services.test_suite_create(account=account, name="bench", user=user, chatbot=chatbot, cases=cases)
    settings.SMARTER = settings.SMARTER.overridden(evaluation_concurrency=concurrency)
    # Its task goes to the broker, where no worker takes it: the run is run right here instead,
    # where its CPU can be measured.
    run = services.eval_run_start(account=account, suite=suite, user=user)
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    status = run_evaluation(run.pk)
    wall, cpu = time.perf_counter() - wall_before, time.process_time() - cpu_before
    finished = EvalRun.objects.get(pk=run.pk)
    return Measured(concurrency, wall, cpu, str(status), finished.completed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="one repetition")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print, do not write docs/performance.md")
    options = parser.parse_args(argv)
    repeat = 1 if options.quick else options.repeat
    stub, stub_url = _start_stub()
    redis_server, redis_url = _start_redis()
    try:
        _setup(stub_url, redis_url)
        cases = suite_cases(CASES)
        one_run(4, cases[:10])  # warm up: connections, imports, the first queries compiled
        samples: dict[int, list[Measured]] = {concurrency: [] for concurrency in CONCURRENCIES}
        load_before = os.getloadavg()
        for _ in range(repeat):
            for concurrency in CONCURRENCIES:
                measured = one_run(concurrency, cases)
                if measured.status != "passed" or measured.completed != CASES:
                    sys.exit(f"a run did not pass whole: {measured}")
                samples[concurrency].append(measured)
                print(
                    f"concurrency {concurrency:>2}: {measured.wall:6.2f} s, {measured.cases_per_second:6.1f} cases/s, "
                    f"{measured.cpu_ms_per_case:6.2f} ms CPU/case",
                    flush=True,
                )
        load_after = os.getloadavg()
    finally:
        for process in (stub, redis_server):
            process.terminate()
            process.wait(timeout=10)
        _teardown()
    markdown = report(samples, repeat, load_before, load_after)
    print(markdown)
    if not options.no_write:
        write_section("evaluation", markdown)


def report(
    samples: dict[int, list[Measured]],
    repeat: int,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> str:
    from django.conf import settings

    default = settings.SMARTER.__class__.model_fields["evaluation_concurrency"].default
    rows = []
    for concurrency, measured in samples.items():
        wall = statistics.median(m.wall for m in measured)
        rate = statistics.median(m.cases_per_second for m in measured)
        cpu = statistics.median(m.cpu_ms_per_case for m in measured)
        spread = f"{min(m.wall for m in measured):.2f} to {max(m.wall for m in measured):.2f}"
        mark = " (default)" if concurrency == default else ""
        rows.append(f"| {concurrency}{mark} | {wall:.2f} s ({spread}) | {rate:.1f} | {cpu:.1f} ms |")
    worst = max(m.wall for measured in samples.values() for m in measured)
    verdict = "within" if worst <= LIMIT_SECONDS else "OVER"
    return "\n".join(
        [
            "## Evaluation runs (`benchmarks/evaluation.py`)",
            "",
            f"A suite of {CASES} cases against the stub upstream answering after "
            f"{UPSTREAM_DELAY_MS} ms (a process of its own), on MariaDB and Redis, run by `run_evaluation` as a "
            "worker runs it; `SMARTER_EVALUATION_CONCURRENCY` cases at once. Medians of "
            f"{repeat} runs per concurrency, interleaved (the range of wall times in brackets). CPU per case is "
            "the runner process's CPU time (user + system) over the run divided by the cases: the turn pipeline, "
            "scoring and the database driver, not the database server, the stub or a billing worker.",
            "",
            "| cases at once | wall time (100 cases) | cases/s | runner CPU per case |",
            "|---|---|---|---|",
            *rows,
            "",
            f"Slowest run {worst:.1f} s: {verdict} the {LIMIT_SECONDS:.0f} s budget for 100 cases. Load average "
            f"(1, 5, 15 min) {load_before[0]:.1f}, {load_before[1]:.1f}, {load_before[2]:.1f} before and "
            f"{load_after[0]:.1f}, {load_after[1]:.1f}, {load_after[2]:.1f} after, on 2 cores shared with "
            "other work: the CPU per case is the steadier figure.",
            "",
            "The runner's CPU per case does not grow with the number of cases at once (it falls a little from "
            "one at a time): a case is a turn waiting on the model, and its cost is the turn's. "
            "What the concurrency decides is how close a run "
            "comes to the account's evaluation rate limit (`SMARTER_RATE_LIMIT_EVALUATION_PER_MINUTE`, 300), "
            "the platform's deliberate bound on evaluation traffic: with answers taking 2 s, 4 at once ask "
            "120 turns a minute and 8 ask 240. The default is 8, so the rate limit, not a second, hidden "
            "bound, decides how fast a run goes; an operator whose upstream quota is tight lowers either.",
        ]
    )


if __name__ == "__main__":
    main()
