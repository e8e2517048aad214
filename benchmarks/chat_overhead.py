"""What the chat gateway adds on top of the model: Smarter's OpenAI-compatible door and a LiteLLM
proxy, each in front of the same stub upstream, against that upstream called directly.

One run, on loopback only:

- stub upstreams (`smarter.testing.openai_stub`) answering after 0 ms, 200 ms and 1 s;
- Smarter under uvicorn, one process per upstream (the platform's upstream is a setting), all on
  one database: MariaDB when it answers on 127.0.0.1:3306 (database `smarter_bench`, created,
  migrated and dropped here), else SQLite in a private state directory. Every turn is written
  to that database, as in production; Redis on 127.0.0.1:6379 (database 13, emptied at the end)
  is the broker each turn hands its billing task to, and a real Celery worker (prefork, two
  processes) records the charges, as in production: its CPU is read from /proc like the
  server's, after the billing tasks of each measurement are drained. Access logging is on, as in
  production (uvicorn's access log and Smarter's JSON log line per request, at INFO);
- next to the platform's provider, a chatbot on the account's own Provider (bring-your-own-key:
  its Secret decrypted per turn, the guarded aiohttp client), against the same stub;
- "before": the same, from another commit (`--before`, default `main`) checked out in a temporary
  worktree, its own server and worker, measured in alternating rounds with "after" (this tree);
- a LiteLLM proxy (one worker, no database) with a model per upstream, in its own virtual
  environment `.venv-litellm`, created here when absent;
- an asyncio httpx load generator, one process by default (`--client-procs N` splits the
  connections over N processes); its own CPU use is reported next to every figure, so a
  client-bound configuration shows.

Every load loop is bounded in requests and in time. Run: .venv/bin/python -m benchmarks.chat_overhead
(`--quick` runs a tenth of the requests, to check the machinery).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.report import write_section

ROOT = Path(__file__).resolve().parent.parent
LITELLM_VENV = ROOT / ".venv-litellm"
MARIADB = ("127.0.0.1", 3306)
BENCH_DATABASE = "smarter_bench"
REDIS = ("127.0.0.1", 6379)
BENCH_REDIS_DB = 13  # the broker and cache of the run; emptied at the end
BEFORE_REDIS_DB = 12  # the same for the "before" commit's server and worker
WORKER_PROCESSES = 2  # the Celery worker's prefork pool (the chart's default is 4, on larger nodes)
DRAIN_TIMEOUT_S = 180.0
PROMPT = "Say hello in five words."
PATH_DEADLINE_S = 45.0  # no path of a configuration runs longer than this: it stops sending then
REQUEST_TIMEOUT_S = 60.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# Targets (docs/performance.md states each as pass or fail).
TARGET_CPU_MS = 3.0
TARGET_WEB_CPU_MS = 2.5  # web CPU per turn, with the access log on
TARGET_TOTAL_SHARE = 0.35  # web + worker CPU per turn as a share of LiteLLM's in the same run
TARGET_P50_GROWTH = 0.10  # added p50 at c=1 within 10 % of the "before" commit's
TARGET_C1_P50_MS = 5.0
TARGET_C32_P50_MS = 10.0
TARGET_C32_P99_MS = 60.0
# The CPU target was set where LiteLLM burned 9-13 ms per request: as a share of LiteLLM's CPU in
# the same run it holds on a slower or busier machine too (absolute figures here vary 2x by day).
LITELLM_CPU_WHEN_SET_MS = (9.0, 13.0)
TARGET_CPU_SHARE = TARGET_CPU_MS / (sum(LITELLM_CPU_WHEN_SET_MS) / 2)


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def wait_until_up(url: str, timeout: float, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before answering")
        with suppress(httpx.TransportError):
            httpx.get(url, timeout=2)
            return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (a server may fork workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process tree, from /proc/<pid>/stat."""
    total = 0
    for each in descendants(pid):
        with suppress(OSError):
            stat = Path(f"/proc/{each}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLK_TCK


def rss_bytes(pid: int) -> int:
    total = 0
    for each in descendants(pid):
        with suppress(OSError):
            total += int(Path(f"/proc/{each}/statm").read_text().split()[1]) * PAGE_SIZE
    return total


def busy_seconds() -> float:
    """CPU time the whole machine spent busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def own_cpu_seconds() -> float:
    """This run's CPU: this process, its live descendants and its reaped children."""
    stat = Path("/proc/self/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    reaped = (int(fields[13]) + int(fields[14])) / CLK_TCK  # cutime, cstime
    return cpu_seconds(os.getpid()) + reaped


@dataclass
class Server:
    name: str
    base: str  # the OpenAI base URL: `<base>/chat/completions`
    model: str
    headers: dict[str, str]
    process: subprocess.Popen[Any] | None = None
    worker: subprocess.Popen[Any] | None = None  # the Celery worker recording its turns' charges

    @property
    def url(self) -> str:
        return f"{self.base}/chat/completions"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


def start_stub(stack: ExitStack, delay_ms: int) -> Server:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smarter.testing.openai_stub",
            *("--port", "0", "--delay-ms", str(delay_ms)),
            *("--record-limit", "100"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    stack.callback(stop, process)
    assert process.stdout is not None
    line = process.stdout.readline().strip()  # "openai-stub listening on http://127.0.0.1:PORT/v1"
    if "listening on" not in line:
        raise RuntimeError(f"the stub did not start: {line!r}")
    base = line.rsplit(" ", 1)[1]
    return Server(f"stub {delay_ms} ms", base, "stub-model", {"Authorization": "Bearer bench"}, process)


# --- Smarter ------------------------------------------------------------------------------------


def choose_redis(stack: ExitStack, database: int = BENCH_REDIS_DB) -> tuple[str | None, str]:
    """Redis as in production (the billing hand-off publishes a Celery task per batch of turns,
    which a real worker records), else none: then every turn also writes its charges in the
    server process."""
    if not answers(*REDIS):
        return None, "no Redis answered on 127.0.0.1:6379: each turn's charges written in-process"
    url = f"redis://{REDIS[0]}:{REDIS[1]}/{database}"

    def empty() -> None:
        with suppress(Exception):
            import redis  # installed with Celery's Redis transport

            redis.Redis.from_url(url).flushdb()

    empty()
    stack.callback(empty)
    return url, "Redis on loopback as broker and cache, and a Celery worker recording the charges"


def smarter_env(state: str, database_url: str | None, redis_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTER_")}
    env.update(
        SMARTER_STATE_DIR=state,
        # As in production: every request's JSON log line, at INFO.
        SMARTER_LOG_LEVEL="INFO",
        SMARTER_LOG_FORMAT="json",
        SMARTER_LLM_PROVIDER="openai",
        SMARTER_OPENAI_API_KEY="bench",
        # The per-key rate limit still runs on every turn, but so high that it never refuses: the
        # benchmark sends far more than a client is allowed in production.
        SMARTER_RATE_LIMIT_API_KEY_PER_MINUTE="1000000000",
        # The account's own Provider is the stub on loopback: the guard checks it, and lets it by.
        SMARTER_ALLOW_PRIVATE_HOSTS="true",
    )
    if database_url:
        env["SMARTER_DATABASE_URL"] = database_url
    if redis_url:
        env["SMARTER_REDIS_URL"] = redis_url
    return env


@dataclass(frozen=True)
class Code:
    """Which tree the Smarter processes run: this one, or another commit's worktree."""

    label: str
    root: Path

    def env(self, env: dict[str, str]) -> dict[str, str]:
        return env if self.root == ROOT else {**env, "PYTHONPATH": str(self.root)}


def checkout(stack: ExitStack, ref: str, workdir: Path) -> Code:
    """`ref` in a temporary worktree (removed at the end), run with this tree's virtualenv."""
    tree = workdir / "before"
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=ROOT, check=True, capture_output=True)
    stack.callback(
        lambda: subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    )
    return Code(f"{ref} ({sha})", tree)


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def mariadb(sql: str) -> None:
    import MySQLdb  # the project's own driver (the `mysql` extra)

    connection = MySQLdb.connect(host=MARIADB[0], port=MARIADB[1], user="root")
    try:
        connection.cursor().execute(sql)
    finally:
        connection.close()


def choose_database(stack: ExitStack) -> tuple[str | None, str]:
    """MariaDB when it answers on loopback (a fresh database, dropped at the end), else SQLite."""
    if not answers(*MARIADB):
        return None, "SQLite (MariaDB did not answer on 127.0.0.1:3306)"
    try:
        mariadb(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
        mariadb(f"CREATE DATABASE {BENCH_DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    except Exception as error:  # no driver, no rights: measure on SQLite rather than not at all
        return None, f"SQLite (MariaDB refused: {type(error).__name__})"
    stack.callback(lambda: mariadb(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}"))
    return f"mysql://root@{MARIADB[0]}:{MARIADB[1]}/{BENCH_DATABASE}", "MariaDB on loopback"


def start_smarter(
    stack: ExitStack, env: dict[str, str], stub: Server, key: str, workdir: Path, code: Code | None = None
) -> Server:
    code = code or Code("this tree", ROOT)
    port = free_port()
    log = (workdir / f"smarter-{port}.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "smarter.asgi:application",
            *("--host", "127.0.0.1", "--port", str(port)),
            "--log-level",
            "info",  # uvicorn's access log on, as gunicorn's --access-logfile=- in the image
        ],
        cwd=code.root,
        env=code.env({**env, "SMARTER_OPENAI_BASE_URL": stub.base}),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.callback(stop, process)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(f"{base}/healthz", 60, process)
    return Server("Smarter", f"{base}/api/v1/openai", "bench", {"Authorization": f"Bearer {key}"}, process)


def start_worker(stack: ExitStack, env: dict[str, str], workdir: Path, code: Code) -> subprocess.Popen[Any]:
    """A Celery worker as the chart runs one (prefork, INFO log), for `code`'s tasks."""
    log_path = workdir / f"worker-{code.root.name}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            *("-m", "celery", "--app=smarter", "worker", "--loglevel=INFO"),
            f"--concurrency={WORKER_PROCESSES}",
            "--queues=smarter",
        ],
        cwd=code.root,
        env=code.env(env),
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    stack.callback(stop, process)
    deadline = time.monotonic() + 60
    while " ready." not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Celery worker did not start: {log_path.read_text(errors='replace')[-500:]}")
        time.sleep(0.2)
    return process


def pending_usage_events() -> int:
    import MySQLdb

    connection = MySQLdb.connect(host=MARIADB[0], port=MARIADB[1], user="root", database=BENCH_DATABASE)
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT COUNT(*) FROM account_usageevent WHERE status = 'pending'")
        return int(cursor.fetchone()[0])
    finally:
        connection.close()


def drain(worker: subprocess.Popen[Any]) -> float:
    """Wait until every usage event is recorded (the worker has written its charges); the
    worker's CPU so far. The web process publishes a batch 0.2 s after its first turn."""
    time.sleep(0.5)
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while pending_usage_events():
        if time.monotonic() > deadline:
            raise RuntimeError("the billing tasks were not drained in time")
        time.sleep(0.1)
    return cpu_seconds(worker.pid)


def apply_manifest(server: Server, key: str, manifest: dict[str, Any]) -> None:
    apply_url = server.base.replace("/api/v1/openai", "/api/v1/cli/apply/")
    response = httpx.post(apply_url, json=manifest, headers={"Authorization": f"Token {key}"}, timeout=30)
    if response.status_code >= 300:
        raise RuntimeError(f"apply failed: {response.status_code} {response.text[:300]}")


def apply_chatbots(server: Server, key: str, stub: Server) -> None:
    """`bench` on the platform's provider, and `bench_own` on the account's own Provider: the
    same stub, reached through the guarded client with the account's Secret."""
    manifests: list[dict[str, Any]] = [
        {"kind": "Chatbot", "metadata": {"name": "bench"}, "spec": {"config": {"defaultModel": "gpt-4o-mini"}}},
        {"kind": "Secret", "metadata": {"name": "own_key"}, "spec": {"config": {"value": "bench-own"}}},
        {
            "kind": "Provider",
            "metadata": {"name": "own"},
            "spec": {"provider": {"baseUrl": stub.base, "apiKey": "own_key", "defaultModel": "stub-model"}},
        },
        {
            "kind": "Chatbot",
            "metadata": {"name": "bench_own"},
            "spec": {"config": {"provider": "own", "defaultModel": "stub-model"}},
        },
    ]
    for manifest in manifests:
        apply_manifest(server, key, {"apiVersion": "smarter.sh/v1", **manifest})


# --- LiteLLM ------------------------------------------------------------------------------------


def litellm_binary() -> Path:
    """LiteLLM in its own virtual environment (never in the project's), created on first use."""
    binary = LITELLM_VENV / "bin" / "litellm"
    if not binary.exists():
        print("== creating .venv-litellm (pip install 'litellm[proxy]', a few minutes)", flush=True)
        python = shutil.which("python3.11") or sys.executable
        subprocess.run([python, "-m", "venv", str(LITELLM_VENV)], check=True)
        pip = [str(LITELLM_VENV / "bin" / "pip"), "install", "--quiet"]
        subprocess.run([*pip, "litellm[proxy]", "py-spy"], check=True)
    return binary


def py_spy() -> str | None:
    """py-spy (a sampling profiler, one binary) from the tools environment; None if unavailable."""
    binary = LITELLM_VENV / "bin" / "py-spy"
    if not binary.exists() and (LITELLM_VENV / "bin" / "pip").exists():
        subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "--quiet", "py-spy"], check=False)
    return str(binary) if binary.exists() else shutil.which("py-spy")


def litellm_version() -> str:
    out = subprocess.run(
        [str(LITELLM_VENV / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "?"


def start_litellm(stack: ExitStack, workdir: Path, stubs: dict[int, Server]) -> Server:
    """One proxy, one worker, no database; model `bench` (and `bench-<delay>ms`) -> the stubs."""
    lines = ["model_list:"]
    for delay, stub in stubs.items():
        name = "bench" if delay == 0 else f"bench-{delay}ms"
        lines += [
            f"  - model_name: {name}",
            "    litellm_params:",
            "      model: openai/stub-model",
            f"      api_base: {stub.base}",
            "      api_key: bench",
        ]
    master_key = f"sk-{secrets.token_hex(32)}"  # the proxy refuses to start without one; it also
    # makes the comparison fair: both gateways check a key on every request
    lines += ["litellm_settings:", "  telemetry: false", "  num_retries: 0", "  request_timeout: 60"]
    lines += ["general_settings:", f"  master_key: {master_key}"]
    config = workdir / "litellm_config.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTER_", "DATABASE_URL", "LITELLM_"))}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR", NO_PROXY="*", no_proxy="*")
    process = subprocess.Popen(
        [
            str(litellm_binary()),
            "--config",
            str(config),
            *("--host", "127.0.0.1", "--port", str(port)),
            *("--num_workers", "1", "--telemetry", "False"),
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "litellm.log").open("w"),
    )
    stack.callback(stop, process)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(f"{base}/health/liveliness", 180, process)
    return Server("LiteLLM", base, "bench", {"Authorization": f"Bearer {master_key}"}, process)


# --- the load generator -------------------------------------------------------------------------


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)  # whole answer
    first_tokens: list[float] = field(default_factory=list)  # streams: first content chunk
    errors: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    worker_cpu: float | None = None  # None: no worker measured (no Redis, or not Smarter)
    peak_rss: int = 0
    unsent: int = 0  # left unsent when the path's time limit came

    @property
    def done(self) -> int:
        return len(self.latencies)


async def _one(client: httpx.AsyncClient, url: str, headers: dict[str, str], body: bytes, stream: bool) -> float | None:
    """Send one request; the time to the first content chunk for a stream, None otherwise."""
    if not stream:
        response = await client.post(url, content=body, headers=headers)
        if response.status_code != 200 or b'"choices"' not in response.content:
            raise RuntimeError(f"HTTP {response.status_code}")
        return None
    started = time.perf_counter()
    first: float | None = None
    async with client.stream("POST", url, content=body, headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                if first is None:
                    raise RuntimeError("stream without content")
                return first
            if first is None:
                choices = json.loads(data).get("choices") or [{}]
                if choices[0].get("delta", {}).get("content"):
                    first = time.perf_counter() - started
    raise RuntimeError("stream ended without [DONE]")


async def _load(
    url: str,
    headers: dict[str, str],
    model: str,
    stream: bool,
    concurrency: int,
    total: int,
    sample_pid: int | None = None,
) -> Load:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": PROMPT}], "stream": stream}).encode()
    headers = {**headers, "Content-Type": "application/json"}
    result = Load()
    state = {"sent": 0, "in_flight": 0, "finished": 0}
    deadline = time.monotonic() + PATH_DEADLINE_S
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S, pool=REQUEST_TIMEOUT_S)

    async def worker(client: httpx.AsyncClient) -> None:
        while state["sent"] < total and time.monotonic() < deadline:
            state["sent"] += 1
            state["in_flight"] += 1
            started = time.perf_counter()
            try:
                first = await _one(client, url, headers, body, stream)
            except Exception as error:
                result.errors[str(error)[:60] or type(error).__name__] += 1
            else:
                result.latencies.append(time.perf_counter() - started)
                if first is not None:
                    result.first_tokens.append(first)
            finally:
                state["in_flight"] -= 1
                state["finished"] += 1

    async def sampler() -> None:
        # Memory with every stream open: sampled while all are in flight and none has ended.
        assert sample_pid is not None
        while state["finished"] == 0:
            if state["in_flight"] == concurrency:
                result.peak_rss = max(result.peak_rss, rss_bytes(sample_pid))
            await asyncio.sleep(0.05)

    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        cpu, started = time.process_time(), time.perf_counter()
        tasks = [asyncio.create_task(worker(client)) for _ in range(concurrency)]
        if sample_pid is not None:
            tasks.append(asyncio.create_task(sampler()))
        await asyncio.gather(*tasks)
        result.wall = time.perf_counter() - started
        result.client_cpu = time.process_time() - cpu
    result.unsent = total - state["sent"]
    return result


def _load_in_process(args: tuple[Any, ...]) -> Load:
    return asyncio.run(_load(*args))


def run_load(
    server: Server,
    *,
    stream: bool,
    concurrency: int,
    total: int,
    procs: int = 1,
    model: str | None = None,
    sample_memory: bool = False,
) -> Load:
    """`total` requests, `concurrency` at a time, over `procs` client processes; server CPU read
    from /proc before and after."""
    model = model or server.model
    cpu_before = cpu_seconds(server.pid)
    worker_before = cpu_seconds(server.worker.pid) if server.worker is not None else 0.0
    if procs <= 1 or concurrency < procs:
        result = _load_in_process(
            (server.url, server.headers, model, stream, concurrency, total, server.pid if sample_memory else None)
        )
    else:
        shares = [
            (server.url, server.headers, model, stream, concurrency // procs, total // procs, None)
            for _ in range(procs)
        ]
        with multiprocessing.get_context("fork").Pool(procs) as pool:
            parts = pool.map(_load_in_process, shares)
        result = Load(wall=max(part.wall for part in parts))
        for part in parts:
            result.latencies += part.latencies
            result.first_tokens += part.first_tokens
            result.errors += part.errors
            result.client_cpu += part.client_cpu
            result.unsent += part.unsent
    result.server_cpu = cpu_seconds(server.pid) - cpu_before
    if server.worker is not None:
        result.worker_cpu = drain(server.worker) - worker_before
    return result


# --- figures ------------------------------------------------------------------------------------


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000 if samples else float("nan")


def p99(samples: list[float]) -> float:
    if len(samples) < 2:
        return p50(samples)
    return statistics.quantiles(samples, n=100, method="inclusive")[98] * 1000


def ms(value: float) -> str:
    return "n/a" if value != value else f"{value:.1f}"


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def done_text(load: Load) -> str:
    return f"{load.done} ({load.unsent} unsent: time limit)" if load.unsent else str(load.done)


def errors_text(load: Load) -> str:
    return str(sum(load.errors.values())) if load.errors else "0"


@dataclass
class Config:
    title: str
    delay: int
    stream: bool
    concurrency: int
    total: int


@dataclass
class Row:
    config: Config
    path: str
    load: Load


def cpu_note(load: Load) -> str:
    cores = load.client_cpu / load.wall if load.wall else 0
    return f"{cores:.2f}" + (" (client-bound)" if cores > 0.9 else "")


def latency_table(rows: list[Row], configs: list[Config]) -> str:
    lines = [
        "| upstream | mode | c | path | done | errors | req/s | p50 ms | p99 ms | added p50 | added p99 "
        "| client cores |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for config in configs:
        mine = [row for row in rows if row.config is config]
        base = next(row for row in mine if row.path == "direct")
        for row in mine:
            samples = row.load.first_tokens if config.stream else row.load.latencies
            base_samples = base.load.first_tokens if config.stream else base.load.latencies
            added50 = "—" if row is base else ms(p50(samples) - p50(base_samples))
            added99 = "—" if row is base else ms(p99(samples) - p99(base_samples))
            rate = row.load.done / row.load.wall if row.load.wall else 0
            mode = "stream (TTFT)" if config.stream else "JSON"
            lines.append(
                f"| {config.delay} ms | {mode} | {config.concurrency} | {row.path} | {done_text(row.load)} | "
                f"{errors_text(row.load)} | {rate:.0f} | {ms(p50(samples))} | {ms(p99(samples))} | "
                f"{added50} | {added99} | {cpu_note(row.load)} |"
            )
    return "\n".join(lines)


# --- the run ------------------------------------------------------------------------------------


@contextmanager
def step(title: str) -> Iterator[None]:
    started = time.perf_counter()
    print(f"== {title}", flush=True)
    yield
    print(f"   {time.perf_counter() - started:.1f} s", flush=True)


PROFILE_LAYERS = (
    ("database work (in `in_db_thread`)", ("_guarded.<locals>.work",)),
    (
        "upstream call: Smarter's provider on aiohttp (kept session per endpoint and key)",
        ("providers/openai_compatible", "aiohttp/", "httpx", "httpcore"),
    ),
    ("thread hops: asgiref sync/async adapters, executor", ("asgiref", "concurrent/futures", "shield (asyncio")),
    ("Django request handling and middleware", ("django/",)),
    ("uvicorn and h11 (HTTP)", ("uvicorn/protocols", "h11")),
)
DB_STEPS = (
    ("writing the turn (`turn_write`)", "turn_write"),
    ("the door's one statement: key, switches, chatbot, plugins (`door_lookup`)", "door_lookup"),
    ("limits: rate (Redis) and budget (`turn_admit`)", "turn_admit"),
    ("planning the turn (`_plan`: session, plugin selection)", "_plan "),
)


def floors(server: Server, stub: Server, requests: int) -> str:
    """What a turn cannot go below: the server CPU of a request Django answers with a 404
    (uvicorn, middleware, URL resolution; no database), which the completions path now avoids;
    of a completion request the lean path refuses for want of a key (uvicorn, the route, one
    thread hop; no query); and of one call to the stub upstream through Smarter's provider, the
    openai SDK and bare httpx (kept clients, measured in this process)."""
    base = server.base.replace("/api/v1/openai", "")
    with httpx.Client() as client:
        django_ms = _server_cpu_ms(server, requests, lambda: client.get(f"{base}/no-such-page/"))
        route_ms = _server_cpu_ms(server, requests, lambda: client.post(server.url, content=b"{}"))
    calls = asyncio.run(_upstream_call_cpu(stub, requests))
    lines = [
        "| what | CPU per request (ms) |",
        "|---|---|",
        f"| Smarter server: a request Django answers with 404 (no database) | {django_ms:.2f} |",
        f"| Smarter server: a completion the lean path refuses for want of a key (401) | {route_ms:.2f} |",
    ]
    lines += [f"| one upstream call through {name}, client side | {value:.2f} |" for name, value in calls]
    floor = route_ms + calls[0][1]
    lines += [
        "",
        f"Receiving and answering a completion request and one upstream call through Smarter's provider"
        f" cost {floor:.1f} ms together ({floor / TARGET_CPU_MS:.1f}x the {TARGET_CPU_MS:g} ms target) before"
        " a turn reads or writes anything; the rest of the server's CPU per turn is the turn's own work"
        " (the API key, the chatbot, the plan and limits, and writing the turn).",
    ]
    return "\n".join(lines)


def _server_cpu_ms(server: Server, requests: int, send: Callable[[], Any]) -> float:
    for _ in range(20):
        send()
    before = cpu_seconds(server.pid)
    for _ in range(requests):
        send()
    return (cpu_seconds(server.pid) - before) / requests * 1000


async def _upstream_call_cpu(stub: Server, requests: int) -> list[tuple[str, float]]:
    import openai

    from smarter.apps.chat.providers.base import Message, ProviderRequest
    from smarter.apps.chat.providers.clients import close_sessions
    from smarter.apps.chat.providers.openai_compatible import OpenAICompatibleProvider

    messages = [{"role": "user", "content": PROMPT}]
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S) as http:
        provider = OpenAICompatibleProvider(api_key="bench", base_url=stub.base)  # its kept session
        request = ProviderRequest(messages=(Message.user(PROMPT),), model=stub.model)
        sdk = openai.AsyncOpenAI(api_key="bench", base_url=stub.base, http_client=http, max_retries=0)

        async def provider_call() -> None:
            await provider.complete(request)

        async def sdk_call() -> None:
            await sdk.chat.completions.create(model=stub.model, messages=messages)  # type: ignore[arg-type]

        async def httpx_call() -> None:
            response = await http.post(stub.url, json={"model": stub.model, "messages": messages})
            json.loads(response.content)

        results = []
        for name, call in (
            ("Smarter's provider (`OpenAICompatibleProvider`)", provider_call),
            ("the openai SDK", sdk_call),
            ("httpx alone", httpx_call),
        ):
            for _ in range(20):
                await call()
            started = time.process_time()
            for _ in range(requests):
                await call()
            results.append((name, (time.process_time() - started) / requests * 1000))
    await close_sessions()  # the provider's kept session, before this loop ends
    return results


def profile(server: Server, workdir: Path, requests: int) -> str:
    """Where the server's CPU goes: py-spy samples of the thread holding the GIL, by layer."""
    spy = py_spy()
    if spy is None:
        return "Not profiled: py-spy is not available."
    out = workdir / "profile.txt"
    sampler = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(server.pid),
            *("--duration", "25", "--rate", "200", "--gil", "--nonblocking"),
            *("--format", "raw", "-o", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    load = run_load(server, stream=False, concurrency=8, total=requests)
    try:
        sampler.wait(timeout=60)
    except subprocess.TimeoutExpired:
        sampler.kill()
    if not out.exists():
        return f"Not profiled: py-spy exited with {sampler.returncode} (it needs ptrace rights on the server)."
    layers: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        layer = next((name for name, keys in PROFILE_LAYERS if any(k in stack for k in keys)), "event loop, other")
        layers[layer] += samples
        if layer == PROFILE_LAYERS[0][0]:
            for name, key in DB_STEPS:
                if key in stack:
                    steps[name] += samples
    if not total:
        return "Not profiled: py-spy recorded no samples."
    lines = ["| layer | share of GIL-holding samples |", "|---|---|"]
    lines += [f"| {name} | {100 * count / total:.0f}% |" for name, count in layers.most_common()]
    lines += [f"| — of which {name} | {100 * count / total:.0f}% |" for name, count in steps.most_common()]
    cpu = load.server_cpu / load.done * 1000 if load.done else float("nan")
    return (
        f"py-spy (`--gil`, 200 Hz, the first 25 s) on the Smarter process while it served {load.done} JSON\n"
        f"requests at c = 8 against the 0 ms upstream ({total} samples; {cpu:.1f} ms of server CPU per request\n"
        "over the whole load):\n\n" + "\n".join(lines)
    )


def warm(server: Server, model: str | None = None) -> None:
    run_load(server, stream=False, concurrency=8, total=40, model=model)
    run_load(server, stream=True, concurrency=8, total=40, model=model)


def main() -> None:
    global BENCH_DATABASE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the requests (checks the machinery)")
    parser.add_argument("--client-procs", type=int, default=1, help="load generator processes at c >= 32")
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM path")
    parser.add_argument("--no-write", action="store_true", help="print the section, do not write it")
    parser.add_argument("--before", default="main", help="the commit measured as 'before' (default: main)")
    parser.add_argument("--no-before", action="store_true", help="measure this tree only")
    parser.add_argument("--rounds", type=int, default=3, help="alternating before/after rounds")
    parser.add_argument("--database", default=BENCH_DATABASE, help="MariaDB database (created and dropped)")
    parser.add_argument(
        "--redis-dbs", default=f"{BENCH_REDIS_DB},{BEFORE_REDIS_DB}", help="Redis databases: this tree's,before's"
    )
    options = parser.parse_args()
    BENCH_DATABASE = options.database
    after_redis_db, before_redis_db = (int(number) for number in options.redis_dbs.split(","))
    scale = 0.1 if options.quick else 1.0
    low, high = max(20, int(300 * scale)), max(256, int(600 * scale))
    procs = options.client_procs
    started = time.perf_counter()
    loadavg = Path("/proc/loadavg").read_text().split()[:3]
    busy_start, own_start = busy_seconds(), own_cpu_seconds()

    with ExitStack() as stack, tempfile.TemporaryDirectory() as state:
        workdir = Path(state)
        with step("stub upstreams, database, Smarter"):
            stubs = {delay: start_stub(stack, delay) for delay in (0, 200, 1000)}
            database_url, database_text = choose_database(stack)
            redis_url, redis_text = choose_redis(stack, after_redis_db)
            database_text = f"{database_text}; {redis_text}"
            env = smarter_env(str(workdir / "state"), database_url, redis_url)
            manage(env, "migrate", "--noinput", "-v", "0")
            created = json.loads(
                manage(env, "create_account", "--company", "Bench", "--username", "bench", "--email", "b@bench.test")
            )
            key = created["apiKey"]
            this_tree = Code("this tree", ROOT)
            worker = start_worker(stack, env, workdir, this_tree) if redis_url and database_url else None
            smarter = {delay: start_smarter(stack, env, stub, key, workdir) for delay, stub in stubs.items()}
            for server in smarter.values():
                server.worker = worker
            apply_chatbots(smarter[0], key, stubs[0])
            for server in smarter.values():
                warm(server)
            warm(smarter[0], "bench_own")

        before: Server | None = None
        before_text = ""
        if not options.no_before:
            with step(f"Smarter at {options.before}, in a temporary worktree"):
                code = checkout(stack, options.before, workdir)
                before_redis, _ = choose_redis(stack, before_redis_db)
                before_env = smarter_env(str(workdir / "state"), database_url, before_redis)
                before = start_smarter(stack, before_env, stubs[0], key, workdir, code)
                before.name = f"Smarter at {code.label}"
                if before_redis and database_url:
                    before.worker = start_worker(stack, before_env, workdir, code)
                warm(before)
                warm(before, "bench_own")
                before_text = code.label

        litellm: Server | None = None
        litellm_problem = ""
        if not options.no_litellm:
            with step("LiteLLM proxy"):
                try:
                    litellm = start_litellm(stack, workdir, stubs)
                    for delay in stubs:
                        warm(litellm, "bench" if delay == 0 else f"bench-{delay}ms")
                except Exception as error:
                    litellm_problem = f"{type(error).__name__}: {error}"
                    log = workdir / "litellm.log"
                    if log.exists():
                        litellm_problem += " | " + " ".join(log.read_text(errors="replace").split()[-40:])
                    print(f"   LiteLLM unavailable: {litellm_problem}", flush=True)
                    litellm = None

        def paths(delay: int) -> list[tuple[str, Server, str | None]]:
            found: list[tuple[str, Server, str | None]] = [
                ("direct", stubs[delay], None),
                ("Smarter", smarter[delay], None),
            ]
            if litellm is not None:
                found.append(("LiteLLM", litellm, "bench" if delay == 0 else f"bench-{delay}ms"))
            return found

        configs = [
            Config("c=1 JSON", 0, False, 1, low),
            Config("c=1 stream", 0, True, 1, low),
            Config("c=32 JSON", 0, False, 32, high),
            Config("c=32 stream", 0, True, 32, high),
            Config("c=256 JSON", 0, False, 256, high),
            Config("c=256 stream", 0, True, 256, high),
            Config("c=32 JSON, 200 ms", 200, False, 32, high),
            Config("c=32 stream, 200 ms", 200, True, 32, high),
        ]
        rows: list[Row] = []
        for config in configs:
            with step(f"{config.title}: {config.total} requests per path"):
                for path, server, model in paths(config.delay):
                    load = run_load(
                        server,
                        stream=config.stream,
                        concurrency=config.concurrency,
                        total=config.total,
                        procs=procs if config.concurrency >= 32 else 1,
                        model=model,
                    )
                    rows.append(Row(config, path, load))
                    print(f"   {path}: {load.done} done, {dict(load.errors) or 'no errors'}", flush=True)

        # 256 concurrent streams against the 1 s upstream; Smarter twice: the first run grows its
        # pools (threads, connections), the second shows the steady state.
        streams: list[tuple[str, Load, int]] = []
        with step("256 concurrent streams against the 1 s upstream"):
            for label, delay_paths in (("first", paths(1000)), ("second", paths(1000)[1:2])):
                for path, server, model in delay_paths:
                    idle = rss_bytes(server.pid)
                    load = run_load(
                        server, stream=True, concurrency=256, total=256, model=model, sample_memory=path != "direct"
                    )
                    name = path if path == "direct" else f"{path} ({label} run)"
                    streams.append((name, load, idle))
                    print(f"   {name}: {load.done} done in {load.wall:.2f} s, errors {dict(load.errors)}", flush=True)

        ab: list[AbRow] = []
        with step(f"before and after, platform and own provider: {options.rounds} alternating rounds"):
            # A server of this tree started now, so that both sides have served the same load
            # before the rounds (the matrix's server has held hundreds of streams).
            after = start_smarter(stack, env, stubs[0], key, workdir)
            after.worker = worker
            warm(after)
            warm(after, "bench_own")
            variants: list[tuple[str, Server, str]] = [("after", after, "bench"), ("after", after, "bench_own")]
            if before is not None:
                variants += [("before", before, "bench"), ("before", before, "bench_own")]
            for number in range(1, options.rounds + 1):
                direct = run_load(stubs[0], stream=False, concurrency=1, total=low)
                lite = None
                if litellm is not None:
                    lite = run_load(litellm, stream=False, concurrency=32, total=high, procs=procs, model="bench")
                # Each side goes first in turn: neither always runs on a machine the other warmed.
                for side, server, model in variants if number % 2 else variants[::-1]:
                    one = run_load(server, stream=False, concurrency=1, total=low, model=model)
                    many = run_load(server, stream=False, concurrency=32, total=high, procs=procs, model=model)
                    ab.append(AbRow(number, side, model, one, many, direct, lite))
                    print(f"   round {number}, {side}, {model}: {one.done}+{many.done} done", flush=True)

        with step("profile of Smarter (py-spy)"):
            profile_md = profile(smarter[0], workdir, max(400, int(4000 * scale)))
        with step("floors: Django alone, the lean path alone, the upstream call alone"):
            floors_md = floors(smarter[0], stubs[0], max(100, int(500 * scale)))
        elapsed = time.perf_counter() - started
        others = ((busy_seconds() - busy_start) - (own_cpu_seconds() - own_start)) / elapsed
        machine = f"load average {' '.join(loadavg)} at the start; other processes used {max(others, 0):.2f} cores"

    total_s = time.perf_counter() - started
    markdown = render(rows, configs, streams, database_text, litellm, litellm_problem, procs, low, high, total_s)
    markdown += "\n" + ab_section(ab, before_text, litellm is not None, low, high)
    markdown += f"\n### Where Smarter's CPU goes\n\n{profile_md}\n"
    markdown += f"\n### The floor under a turn\n\n{floors_md}\n"
    markdown = markdown.replace("MACHINE_LOAD", machine)
    if not options.no_write:
        write_section("chat", markdown)
    print(markdown)


@dataclass
class AbRow:
    """One round of one variant: c=1 and c=32 JSON against the 0 ms upstream."""

    round: int
    side: str  # "after" (this tree) or "before"
    model: str  # "bench" (the platform's provider) or "bench_own" (the account's own Provider)
    one: Load
    many: Load
    direct: Load  # the upstream called directly at c=1, in the same round
    litellm: Load | None  # LiteLLM at c=32, in the same round

    def web_ms(self, load: Load) -> float:
        return load.server_cpu / load.done * 1000 if load.done else float("nan")

    @property
    def worker_ms(self) -> float | None:
        if self.many.worker_cpu is None or not self.many.done:
            return None
        return self.many.worker_cpu / self.many.done * 1000

    @property
    def share(self) -> float | None:
        if self.litellm is None or not self.litellm.done or self.worker_ms is None:
            return None
        lite = self.litellm.server_cpu / self.litellm.done * 1000
        return (self.web_ms(self.many) + self.worker_ms) / lite

    @property
    def added_p50(self) -> float:
        return p50(self.one.latencies) - p50(self.direct.latencies)


def _spread(values: list[float | None], digits: int = 2) -> str:
    found = [v for v in values if v is not None and v == v]
    if not found:
        return "n/a"
    middle = statistics.median(found)
    if len(found) == 1:
        return f"{middle:.{digits}f}"
    return f"{middle:.{digits}f} ({min(found):.{digits}f} to {max(found):.{digits}f})"


def _median(values: list[float | None]) -> float:
    found = [v for v in values if v is not None and v == v]
    return statistics.median(found) if found else float("nan")


def ab_section(ab: list[AbRow], before: str, with_litellm: bool, low: int, high: int) -> str:
    """The before/after comparison and the targets of web CPU, worker CPU and added latency."""
    if not ab:
        return ""
    names = {"bench": "platform's provider", "bench_own": "account's own Provider"}
    variants = list(dict.fromkeys((row.side, row.model) for row in ab))

    def of(side: str, model: str) -> list[AbRow]:
        return [row for row in ab if (row.side, row.model) == (side, model)]

    lines = [
        "| commit | provider | web CPU per turn, c=32 (ms) | worker CPU per turn (ms) | web + worker (ms) | "
        "share of LiteLLM's CPU | web CPU per turn, c=1 (ms) | added p50, c=1 (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for side, model in variants:
        rows = of(side, model)
        commit = "this tree" if side == "after" else before
        totals = [r.web_ms(r.many) + r.worker_ms if r.worker_ms is not None else None for r in rows]
        lines.append(
            f"| {commit} | {names[model]} | {_spread([r.web_ms(r.many) for r in rows])} | "
            f"{_spread([r.worker_ms for r in rows])} | {_spread(totals)} | {_spread([r.share for r in rows])} | "
            f"{_spread([r.web_ms(r.one) for r in rows])} | {_spread([r.added_p50 for r in rows], 1)} |"
        )
    after = of("after", "bench")
    web = _median([r.web_ms(r.many) for r in after])
    share = _median([r.share for r in after])
    targets = [
        "| figure | target | measured (median of the rounds) |",
        "|---|---|---|",
        f"| web CPU per turn, c=32, platform's provider, access log on | ≤ {TARGET_WEB_CPU_MS:g} ms | "
        f"{web:.2f} ms {verdict(web <= TARGET_WEB_CPU_MS)} |",
    ]
    if with_litellm and share == share:
        targets.append(
            f"| web + worker CPU per turn as a share of LiteLLM's, c=32 | ≤ {TARGET_TOTAL_SHARE:.2f} | "
            f"{share:.2f} {verdict(share <= TARGET_TOTAL_SHARE)} |"
        )
    own = _median([r.web_ms(r.many) for r in of("after", "bench_own")])
    targets.append(f"| web CPU per turn, c=32, account's own Provider | close to the platform's | {own:.2f} ms |")
    if before:
        was = _median([r.added_p50 for r in of("before", "bench")])
        now = _median([r.added_p50 for r in after])
        growth = (now - was) / was if was > 0 else float("nan")
        targets.append(
            f"| added p50, c=1, against {before} | within {TARGET_P50_GROWTH:.0%} | {now:.2f} ms against "
            f"{was:.2f} ms ({growth:+.0%}) {verdict(growth <= TARGET_P50_GROWTH)} |"
        )
    rounds = max(row.round for row in ab)
    return f"""### Before and after, the platform's provider and an account's own

{rounds} rounds, alternating: in each, the upstream called directly at c = 1 ({low} requests), LiteLLM
at c = 32 ({high}), then each variant at c = 1 ({low}) and at c = 32 ({high}), JSON, 0 ms upstream.
"Before" is {before or "not measured"}, checked out in a temporary worktree and served by its
own process and worker on the same database. Each figure is the median of the rounds, with their
range. Worker CPU is the Celery worker's (prefork, {WORKER_PROCESSES} processes), read from `/proc`
after the billing tasks of the c = 32 load were drained, divided by its turns. The share of
LiteLLM is web + worker CPU per turn over LiteLLM's CPU per request in the same round.

{chr(10).join(targets)}

{chr(10).join(lines)}
"""


def reading(
    rows: list[Row],
    streams: list[tuple[str, Load, int]],
    gateways: list[str],
    cpu_ms: Callable[[str, str], float],
    added: Callable[[str, str, Callable[[list[float]], float]], float],
) -> str:
    """The plain-words reading of the figures, computed from them."""
    cpu = cpu_ms("c=32 JSON", "Smarter")
    ceiling = 1000 / cpu if cpu > 0 else float("inf")
    offered = 32 / 0.2
    rate = next(r.load.done / r.load.wall for r in rows if r.config.title == "c=32 JSON" and r.path == "Smarter")
    lines = [
        f"- Smarter spends **{cpu:.1f} ms of server CPU per JSON turn** ({cpu / TARGET_CPU_MS:.1f}x the "
        f"{TARGET_CPU_MS:g} ms target). One process can therefore serve at most about {ceiling:.0f} turns/s "
        f"(measured: {rate:.0f}/s at c = 32 against the 0 ms upstream)."
    ]
    if "LiteLLM" in gateways:
        lite = cpu_ms("c=32 JSON", "LiteLLM")
        lines.append(
            f"- LiteLLM, measured the same way, spends {lite:.1f} ms per request: Smarter's CPU per request is "
            f"{cpu / lite:.2f}x LiteLLM's, and Smarter also writes the turn, its messages and its billing "
            "outbox to the database, which LiteLLM does not."
        )
    c32 = added("c=32 JSON, 200 ms", "Smarter", p50)
    lines.append(
        f"- Against the 200 ms upstream at c = 32 the clients offer {offered:.0f} turns/s, "
        + (
            f"above that ceiling: turns queue for the CPU, which is why Smarter adds {c32:.0f} ms at p50 there. "
            "This target cannot be met without cutting CPU per turn (or adding processes)."
            if ceiling < offered
            else f"within that ceiling; Smarter adds {c32:.0f} ms at p50."
        )
    )
    c1 = added("c=1 JSON", "Smarter", p50)
    lines.append(
        f"- At c = 1 against the 0 ms upstream Smarter adds {c1:.1f} ms at p50: its own work for one turn "
        "(CPU above, plus the database round trips of the turn, one after another)."
    )
    mine = [(load, idle) for name, load, idle in streams if name.startswith("Smarter")]
    direct = next(load for name, load, _ in streams if name == "direct")
    if mine:
        load = mine[-1][0]
        lines.append(
            f"- 256 streams against the 1 s upstream: {load.done}/256 completed, {errors_text(load)} errors, in "
            f"{load.wall:.1f} s against {direct.wall:.1f} s direct: the streams are cheap to hold open (memory "
            "above) but each turn's CPU is paid one after another on one core."
        )
    return "\n".join(lines)


def render(
    rows: list[Row],
    configs: list[Config],
    streams: list[tuple[str, Load, int]],
    database_text: str,
    litellm: Server | None,
    litellm_problem: str,
    procs: int,
    low: int,
    high: int,
    total_s: float,
) -> str:
    def row(title: str, path: str) -> Row:
        return next(r for r in rows if r.config.title == title and r.path == path)

    def added(title: str, path: str, fn: Callable[[list[float]], float]) -> float:
        return fn(row(title, path).load.latencies) - fn(row(title, "direct").load.latencies)

    def cpu_ms(title: str, path: str) -> float:
        load = row(title, path).load
        return load.server_cpu / load.done * 1000 if load.done else float("nan")

    gateways = ["Smarter"] + (["LiteLLM"] if litellm is not None else [])
    # Targets and headline figures, per gateway.
    target_lines = [
        "| figure | target | " + " | ".join(gateways) + " |",
        "|---|---|" + "---|" * len(gateways),
    ]

    def target(name: str, goal: str, values: list[tuple[float, bool | None]]) -> None:
        cells = [ms(v) + (f" {verdict(ok)}" if ok is not None else "") for v, ok in values]
        target_lines.append(f"| {name} | {goal} | " + " | ".join(cells) + " |")

    target(
        "server CPU per JSON request, c=32, 0 ms upstream (ms)",
        f"≤ {TARGET_CPU_MS:g} ms",
        [(cpu_ms("c=32 JSON", g), cpu_ms("c=32 JSON", g) <= TARGET_CPU_MS) for g in gateways],
    )
    target(
        "server CPU per JSON request, c=1, 0 ms upstream (ms)",
        f"≤ {TARGET_CPU_MS:g} ms",
        [(cpu_ms("c=1 JSON", g), cpu_ms("c=1 JSON", g) <= TARGET_CPU_MS) for g in gateways],
    )
    if "LiteLLM" in gateways:
        share_low, share_high = (TARGET_CPU_MS / reference for reference in reversed(LITELLM_CPU_WHEN_SET_MS))
        for title in ("c=32 JSON", "c=1 JSON"):
            share = cpu_ms(title, "Smarter") / cpu_ms(title, "LiteLLM")
            cells = [
                f"{share:.2f} {verdict(share <= TARGET_CPU_SHARE)}" if g == "Smarter" else "1.00 (the baseline)"
                for g in gateways
            ]
            target_lines.append(
                f"| server CPU per JSON request as a share of LiteLLM's in this run, {title.split()[0]} | "
                f"≤ {TARGET_CPU_SHARE:.2f} (3 ms of the 9 to 13 ms LiteLLM used when the target was set:"
                f" {share_low:.2f} to {share_high:.2f}) | " + " | ".join(cells) + " |"
            )
    target(
        "added p50, c=1, 0 ms upstream (ms)",
        f"≤ {TARGET_C1_P50_MS:g} ms",
        [(added("c=1 JSON", g, p50), added("c=1 JSON", g, p50) <= TARGET_C1_P50_MS) for g in gateways],
    )
    target("added p99, c=1, 0 ms upstream (ms)", "—", [(added("c=1 JSON", g, p99), None) for g in gateways])
    title = "c=32 JSON, 200 ms"
    target(
        "added p50, c=32, 200 ms upstream (ms)",
        f"≤ {TARGET_C32_P50_MS:g} ms",
        [(added(title, g, p50), added(title, g, p50) <= TARGET_C32_P50_MS) for g in gateways],
    )
    target(
        "added p99, c=32, 200 ms upstream (ms)",
        f"≤ {TARGET_C32_P99_MS:g} ms",
        [(added(title, g, p99), added(title, g, p99) <= TARGET_C32_P99_MS) for g in gateways],
    )
    for title in ("c=32 JSON", "c=256 JSON", "c=256 stream"):
        rates = [row(title, g).load.done / row(title, g).load.wall for g in gateways]
        base = row(title, "direct").load
        target_lines.append(
            f"| requests/s, {title}, 0 ms upstream (direct: {base.done / base.wall:.0f}) | — | "
            + " | ".join(f"{rate:.0f}" for rate in rates)
            + " |"
        )
    stream_cells = []
    for gateway in gateways:
        runs = [(load, idle) for name, load, idle in streams if name.startswith(gateway)]
        ok = all(load.done == 256 and not load.errors for load, _ in runs)
        walls = " / ".join(f"{load.wall:.2f} s" for load, _ in runs)
        stream_cells.append(f"{sum(load.done for load, _ in runs)}/{256 * len(runs)} ok, {walls} {verdict(ok)}")
    target_lines.append(
        "| 256 streams, 1 s upstream: completed, wall | all, no error | " + " | ".join(stream_cells) + " |"
    )
    memory_cells = []
    for gateway in gateways:
        load, idle = [(load, idle) for name, load, idle in streams if name.startswith(gateway)][-1]
        memory_cells.append(f"{(load.peak_rss - idle) / 256 / 1024:.0f} KiB" if load.peak_rss else "not sampled")
    target_lines.append("| memory per open stream (RSS, 256 open minus idle) | — | " + " | ".join(memory_cells) + " |")

    stream_lines = [
        "| path | completed | errors | wall s | idle RSS MiB | RSS with 256 open MiB |",
        "|---|---|---|---|---|---|",
    ]
    for name, load, idle in streams:
        peak = f"{load.peak_rss / 2**20:.0f}" if load.peak_rss else "—"
        idle_text = f"{idle / 2**20:.0f}" if name != "direct" else "—"
        stream_lines.append(
            f"| {name} | {load.done}/256 | {errors_text(load)} | {load.wall:.2f} | {idle_text} | {peak} |"
        )

    litellm_text = (
        f"LiteLLM {litellm_version()} proxy, one worker, no database, in `.venv-litellm`"
        if litellm is not None
        else f"LiteLLM could not be measured: {litellm_problem}"
    )
    client_text = (
        "one asyncio httpx process" if procs <= 1 else f"{procs} asyncio httpx processes at c ≥ 32 (one at c = 1)"
    )
    targets_md, streams_md = "\n".join(target_lines), "\n".join(stream_lines)
    reading_md = reading(rows, streams, gateways, cpu_ms, added)
    return f"""## Chat gateway overhead (`benchmarks/chat_overhead.py`)

The latency a gateway adds over the model, on one 2-core machine: the stub upstream
(`smarter.testing.openai_stub`) called directly (baseline), through Smarter's OpenAI-compatible
door (`POST /api/v1/openai/chat/completions`, one uvicorn process, a chatbot with no plugins,
every turn written to {database_text}; the per-key rate limit is checked on every turn, set so
high that it never refuses; access logging on, as in production: uvicorn's line and Smarter's JSON
line per request), and through a {litellm_text}. All three run in the
same run, configuration by configuration; {low} requests per path at c = 1, {high} at c = 32
and 256, or {PATH_DEADLINE_S:.0f} s per path, whichever comes first. Load: {client_text}; its
CPU use is in the last column ("client-bound" above 0.9 of a core: there the figure is the
client's limit, not the server's). Streams are timed to the first
content chunk (TTFT). Whole run: {total_s / 60:.1f} min; MACHINE_LOAD
on average during the run (the machine is shared: absolute figures are noisy, ratios less so).

### Targets

{targets_md}

Server CPU is utime + stime of the server process (and any children) from `/proc`, read before
and after the configuration, divided by the requests completed.

### Reading

{reading_md}

### Latency and throughput

{latency_table(rows, configs)}

At 0 ms upstream and c ≥ 32 latency is queueing: read requests/s there.

### 256 concurrent streams, 1 s upstream

{streams_md}
"""


if __name__ == "__main__":
    main()
