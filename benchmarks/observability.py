"""What metrics and traces cost a turn: the web process's CPU per turn on the OpenAI door, with
metrics off, with metrics on, and with metrics and traces on (all sampled, and one in ten),
measured in one run.

One run, on loopback only: the stub upstream answering at once (`smarter.testing.openai_stub`),
MariaDB when it answers (else SQLite), Redis as the broker with a real Celery worker recording the
charges (as `benchmarks/chat_overhead.py` sets them up), and four Smarter servers under uvicorn
on the same database, one per configuration:

- **off**: no `SMARTER_METRICS_TOKEN` (nothing is recorded), no `SMARTER_OTLP_ENDPOINT`;
- **metrics**: a token and `PROMETHEUS_MULTIPROC_DIR` (as the chart runs it: each sample written
  to the memory-mapped files a scrape sums);
- **metrics + traces**: the same, and traces exported over OTLP/HTTP to a sink on loopback that
  accepts every batch (`smarter.testing.otlp_sink`), every span sampled; and again with one trace
  in ten sampled (`SMARTER_OTEL_SAMPLE_RATIO=0.1`).

The configurations are measured in alternating rounds (the machine's noise falls on all three),
each round the same number of JSON and streamed turns at concurrency 8; the CPU of each server
process is read from /proc before and after its rounds. Run: .venv/bin/python -m benchmarks.observability
(`--quick` runs a tenth of the requests).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from benchmarks.chat_overhead import (
    ROOT,
    Code,
    Server,
    apply_chatbots,
    choose_database,
    choose_redis,
    manage,
    run_load,
    smarter_env,
    start_smarter,
    start_stub,
    start_worker,
    step,
    stop,
    warm,
)
from benchmarks.report import write_section

TOKEN = "bench-metrics-token"  # noqa: S105  (a loopback benchmark's)
TARGET_METRICS_GROWTH = 0.10  # CPU per turn with metrics on: at most 10 % above metrics off
CONCURRENCY = 8
REDIS_DB = 11


def start_sink(stack: ExitStack) -> str:
    """An OTLP/HTTP receiver on loopback that accepts and drops every batch: its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "smarter.testing.otlp_sink", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    stack.callback(stop, process)
    assert process.stdout is not None
    line = process.stdout.readline().strip()  # "otlp-sink listening on http://127.0.0.1:PORT"
    if "listening on" not in line:
        raise RuntimeError(f"the OTLP sink did not start: {line!r}")
    return line.rsplit(" ", 1)[1]


def scraped_turns(server: Server) -> float:
    """The turns the server's own /metrics counted (a check that metrics were really on)."""
    url = server.base.replace("/api/v1/openai", "/metrics")
    text = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("smarter_turns_total{"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the requests (checks the machinery)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--no-write", action="store_true", help="print the section, do not write it")
    options = parser.parse_args()
    per_round = 40 if options.quick else 400

    with ExitStack() as stack, tempfile.TemporaryDirectory() as state:
        workdir = Path(state)
        with step("stub upstream, database, broker, worker"):
            stub = start_stub(stack, 0)
            database_url, database_text = choose_database(stack)
            redis_url, redis_text = choose_redis(stack, REDIS_DB)
            env = smarter_env(str(workdir / "state"), database_url, redis_url)
            manage(env, "migrate", "--noinput", "-v", "0")
            created = json.loads(
                manage(env, "create_account", "--company", "Bench", "--username", "bench", "--email", "b@bench.test")
            )
            key = created["apiKey"]
            worker = start_worker(stack, env, workdir, Code("this tree", ROOT)) if redis_url and database_url else None
            sink = start_sink(stack)

        def server_with(extra: dict[str, str]) -> Server:
            server = start_smarter(stack, {**env, **extra}, stub, key, workdir)
            server.worker = worker
            return server

        with step("four Smarter servers"):
            directories = [workdir / "metrics-on", workdir / "metrics-traces", workdir / "metrics-traces-sampled"]
            for directory in directories:
                directory.mkdir()
            servers = {
                "off": server_with({}),
                "metrics": server_with(
                    {"SMARTER_METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(directories[0])}
                ),
                "metrics + traces": server_with(
                    {
                        "SMARTER_METRICS_TOKEN": TOKEN,
                        "PROMETHEUS_MULTIPROC_DIR": str(directories[1]),
                        "SMARTER_OTLP_ENDPOINT": sink,
                    }
                ),
                "metrics + traces, 10 % sampled": server_with(
                    {
                        "SMARTER_METRICS_TOKEN": TOKEN,
                        "PROMETHEUS_MULTIPROC_DIR": str(directories[2]),
                        "SMARTER_OTLP_ENDPOINT": sink,
                        "SMARTER_OTEL_SAMPLE_RATIO": "0.1",
                    }
                ),
            }
            apply_chatbots(servers["off"], key, stub)
            for server in servers.values():
                warm(server)

        cpu = dict.fromkeys(servers, 0.0)
        turns = dict.fromkeys(servers, 0)
        errors = dict.fromkeys(servers, 0)
        for number in range(1, options.rounds + 1):
            with step(f"round {number} of {options.rounds}: {per_round} turns per configuration"):
                for name, server in servers.items():
                    for stream in (False, True):
                        load = run_load(server, stream=stream, concurrency=CONCURRENCY, total=per_round // 2)
                        cpu[name] += load.server_cpu
                        turns[name] += load.done
                        errors[name] += sum(load.errors.values())
        counted = {name: scraped_turns(server) for name, server in servers.items() if name != "off"}

    per_turn = {name: cpu[name] / max(1, turns[name]) * 1000 for name in servers}
    growth = per_turn["metrics"] / per_turn["off"] - 1
    traced = per_turn["metrics + traces"] / per_turn["off"] - 1
    sampled = per_turn["metrics + traces, 10 % sampled"] / per_turn["off"] - 1
    lines = [
        "## Observability: what metrics and traces cost a turn",
        "",
        f"`benchmarks/observability.py`: {database_text}; {redis_text}. Web-process CPU per turn on",
        f"the OpenAI door (JSON and streamed turns, concurrency {CONCURRENCY}, stub upstream answering",
        f"at once), {options.rounds} alternating rounds of {per_round} turns per configuration.",
        "",
        "| configuration | turns | errors | CPU per turn | vs off |",
        "|---|---|---|---|---|",
    ]
    for name in servers:
        ratio = per_turn[name] / per_turn["off"] - 1
        lines.append(
            f"| {name} | {turns[name]} | {errors[name]} | {per_turn[name]:.2f} ms | "
            f"{'baseline' if name == 'off' else f'{ratio:+.1%}'} |"
        )
    verdict = "**pass**" if growth <= TARGET_METRICS_GROWTH else "**FAIL**"
    lines += [
        "",
        f"- Target: metrics add at most {TARGET_METRICS_GROWTH:.0%} CPU per turn: {growth:+.1%}, {verdict}.",
        "- Traces, every span sampled and exported over OTLP/HTTP (the turn's, the model calls', the",
        f"  database's and Redis's), add {traced:+.1%} with metrics; with `SMARTER_OTEL_SAMPLE_RATIO=0.1`",
        f"  {sampled:+.1%} (an unsampled turn still creates, then drops, its spans).",
        f"- Check: the servers' own `/metrics` counted {', '.join(f'{k}: {v:.0f}' for k, v in counted.items())}"
        " turns (the 80 warm-up turns included).",
    ]
    section = "\n".join(lines)
    print(section)
    if not options.no_write:
        write_section("observability", section)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - started:.0f} s")
