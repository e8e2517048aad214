"""The Dockerfile and the compose file: linted, and their commands work with the project."""

from __future__ import annotations

import json
import os
import select
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from .support import INSTALL_HINT, REPO, one, render_chart, run, tool

DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "docker-compose.yml"
BUILD_TOOLS = ("gcc", "default-libmysqlclient-dev", "pkg-config", "libc6-dev")


def stages() -> list[list[str]]:
    """The Dockerfile's instructions per stage, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append((pending + line).strip())
        pending = ""
    result: list[list[str]] = []
    for instruction in filter(None, logical):
        if instruction.upper().startswith("FROM "):
            result.append([])
        result[-1].append(instruction)
    return result


def instruction(stage: list[str], keyword: str) -> list[str]:
    return [line[len(keyword) + 1 :] for line in stage if line.upper().startswith(keyword + " ")]


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_hadolint_finds_nothing() -> None:
    hadolint = tool("hadolint", REPO / ".venv" / "bin" / "hadolint")
    result = run([hadolint, "--format", "json", "--failure-threshold", "style", str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_the_image_builds_in_two_python_3_11_slim_stages_after_npm_installs_the_browser_libraries() -> None:
    node, builder, runtime = stages()
    assert node[0] == "FROM node:20-slim AS node"
    assert instruction(node, "COPY") == ["package.json package-lock.json ./"]
    assert instruction(node, "RUN") == ["npm ci --omit=dev --no-audit --no-fund"]
    assert builder[0] == "FROM python:3.11-slim AS builder"
    assert runtime[0] == "FROM python:3.11-slim AS runtime"
    builder_text = "\n".join(builder)
    assert all(package in builder_text for package in BUILD_TOOLS)
    # Both drivers an SqlConnection may need (`make run` installs neither: a 400 names the extra).
    assert 'pip install ".[mysql,postgres]"' in builder_text


def test_the_runtime_stage_has_no_build_tools_and_runs_as_a_user() -> None:
    runtime = stages()[-1]
    installs = " ".join(instruction(runtime, "RUN"))
    assert "libmariadb3" in installs
    for package in BUILD_TOOLS:
        assert package not in installs
    # The virtual environment, and only the browser builds of the npm packages, where the settings
    # look for them: node_modules/ beside the installed `smarter` package.
    assert instruction(runtime, "COPY") == [
        "--from=builder /opt/venv /opt/venv",
        "--from=node /src/node_modules/markdown-it/dist/browser ${NODE_MODULES}/markdown-it/dist/browser",
        "--from=node /src/node_modules/dompurify/dist ${NODE_MODULES}/dompurify/dist",
        "--from=node /src/node_modules/@highlightjs/cdn-assets ${NODE_MODULES}/@highlightjs/cdn-assets",
    ]
    (node_modules,) = instruction(runtime, "ARG")
    assert node_modules == "NODE_MODULES=/opt/venv/lib/python3.11/site-packages/node_modules"
    from django.conf import settings

    copied = {line.split()[1].removeprefix("/src/node_modules/") for line in instruction(runtime, "COPY")[1:]}
    assert copied == set(settings.VENDOR_STATIC.values())
    (user,) = instruction(runtime, "USER")
    assert user.split(":")[0] not in ("0", "root")
    assert "collectstatic --noinput" in installs
    (healthcheck,) = instruction(runtime, "HEALTHCHECK")
    assert "/healthz" in healthcheck


def test_the_default_command_is_the_chart_web_command() -> None:
    (command,) = instruction(stages()[-1], "CMD")
    image_command = json.loads(command)
    web = one(render_chart({}), "Deployment", "smarter-web")["spec"]["template"]["spec"]["containers"][0]
    assert (
        image_command[:3]
        == web["command"][:3]
        == [
            "gunicorn",
            "smarter.asgi:application",
            "--worker-class=uvicorn_worker.UvicornWorker",
        ]
    )


def test_collectstatic_as_the_image_runs_it_leaves_no_generated_key(tmp_path: Path) -> None:
    runtime = stages()[-1]
    (step,) = [line for line in instruction(runtime, "RUN") if "collectstatic" in line]
    assignments = dict(word.split("=", 1) for word in shlex.split(step) if "=" in word and word.isascii())
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SMARTER_")}
    environment.update(
        {key: value for key, value in assignments.items() if key.startswith("SMARTER_")},
        SMARTER_STATE_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="smarter.settings",
        # This checkout's code, whichever checkout the interpreter's environment was installed from.
        PYTHONPATH=str(REPO),
    )
    result = subprocess.run(
        [sys.executable, "-m", "django", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "admin").is_dir()
    if (REPO / "node_modules" / "markdown-it").is_dir():
        assert (tmp_path / "static" / "vendor" / "markdown-it" / "markdown-it.umd.min.js").is_file()
    assert not (tmp_path / "secret_key").exists()
    assert not (tmp_path / "fernet_key").exists()


def test_every_web_command_leaves_forwarding_headers_to_the_platform() -> None:
    """The server itself trusts no proxy: SMARTER_TRUSTED_PROXIES decides (smarter/lib/client_address.py)."""
    (command,) = instruction(stages()[-1], "CMD")
    for argv in (json.loads(command), compose()["services"]["web"]["command"]):
        assert [part for part in argv if part.startswith("--forwarded-allow-ips")] == ["--forwarded-allow-ips="]
    (run_recipe,) = [
        line
        for line in (REPO / "Makefile").read_text(encoding="utf-8").splitlines()
        if "/uvicorn smarter.asgi:application" in line
    ]
    assert "--no-proxy-headers" in run_recipe


def test_the_web_command_serves_healthz(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn_worker", reason=f"needs uvicorn-worker: {INSTALL_HINT}")
    (command,) = instruction(stages()[-1], "CMD")
    port = free_port()
    argv = [f"--bind=127.0.0.1:{port}" if part.startswith("--bind=") else part for part in json.loads(command)]
    argv = [str(Path(sys.executable).parent / argv[0]), *argv[1:]]
    argv = ["--workers=1" if part.startswith("--workers=") else part for part in argv]
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SMARTER_")}
    environment.update(
        SMARTER_STATE_DIR=str(tmp_path),
        SMARTER_SECRET_KEY="web-command-test-" + "x" * 40,
        DJANGO_SETTINGS_MODULE="smarter.settings",
    )
    server = subprocess.Popen(argv, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # A client's forged X-Forwarded-For must not become the address the server logs.
                response = httpx.get(
                    f"http://127.0.0.1:{port}/healthz", headers={"X-Forwarded-For": "203.0.113.99"}, timeout=2
                )
                assert response.status_code == 200
                assert response.json() == {"status": "ok"}
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read().decode() if server.stdout else ""
                    pytest.fail(f"gunicorn did not serve /healthz:\n{output}")
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=30)
    output = server.stdout.read().decode() if server.stdout else ""
    assert "127.0.0.1:" in output and "GET /healthz" in output, output[-3000:]
    assert "203.0.113.99" not in output


def test_the_compose_file_runs_every_workload_of_the_chart() -> None:
    services = compose()["services"]
    assert {"web", "worker", "beat", "migrate", "mysql", "redis"} == set(services)
    assert services["mysql"]["image"].startswith("mysql:8")
    assert services["redis"]["image"].startswith("redis:7")
    chart_workloads = {
        item["metadata"]["name"].removeprefix("smarter-")
        for item in render_chart({})
        if item["kind"] in ("Deployment", "Job")
    }
    assert chart_workloads <= set(services)
    for name in ("web", "worker", "beat", "migrate"):
        service = services[name]
        assert service["build"]["dockerfile"] == "Dockerfile", name
        assert service["env_file"] == [{"path": ".env", "required": False}], name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_compose_services_wait_for_healthy_backends_and_the_migration() -> None:
    services = compose()["services"]
    for name, service in services.items():
        assert "healthcheck" in service, name
        for condition in service.get("depends_on", {}).values():
            assert condition["condition"] in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }
    assert services["migrate"]["depends_on"]["mysql"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_compose_commands_match_the_chart() -> None:
    services = compose()["services"]
    objects = render_chart({})
    for name in ("web", "worker", "beat", "migrate"):
        kind = "Job" if name == "migrate" else "Deployment"
        chart_command = one(objects, kind, f"smarter-{name}")["spec"]["template"]["spec"]["containers"][0]["command"]
        assert services[name]["command"][:3] == chart_command[:3], name


def test_compose_defaults_reach_mysql_and_redis_of_the_file() -> None:
    environment = compose()["x-smarter"]["environment"]
    assert "@mysql:3306/smarter" in environment["SMARTER_DATABASE_URL"]
    assert environment["SMARTER_REDIS_URL"].endswith("redis://redis:6379/0}")


def test_the_build_context_holds_only_the_project() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # Everything is excluded first, then only what the image needs is let back in.
    assert lines[0] == "*"
    assert {line for line in lines if line.startswith("!")} == {
        "!pyproject.toml",
        "!README.md",
        "!smarter/",
        "!package.json",
        "!package-lock.json",
    }
    assert "**/tests/" in lines
    copied = [line.split()[:-1] for line in instruction(stages()[1], "COPY")]
    assert [source for sources in copied for source in sources] == ["pyproject.toml", "README.md*", "smarter"]


def start(argv: list[str], state_dir: Path) -> subprocess.Popen[str]:
    """Run a chart command with the project's interpreter, on embedded defaults in state_dir."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SMARTER_")}
    environment.update(SMARTER_STATE_DIR=str(state_dir), DJANGO_SETTINGS_MODULE="smarter.settings")
    argv = [str(Path(sys.executable).parent / argv[0]), *argv[1:]]
    return subprocess.Popen(
        argv, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def test_the_chart_beat_command_starts_and_satisfies_its_liveness_probe(tmp_path: Path) -> None:
    objects = render_chart({"config": {"stateDir": str(tmp_path)}})
    container = one(objects, "Deployment", "smarter-beat")["spec"]["template"]["spec"]["containers"][0]
    argv = [
        f"--pidfile={tmp_path / 'beat.pid'}" if part.startswith("--pidfile=") else part for part in container["command"]
    ]
    beat = start(argv, tmp_path)
    probe = container["livenessProbe"]["exec"]["command"]
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(probe, capture_output=True, check=False).returncode != 0:
            assert beat.poll() is None, stop(beat)
            assert time.monotonic() < deadline, "the liveness probe never passed"
            time.sleep(0.5)
    finally:
        output = stop(beat)
    assert "beat: Starting" in output


def test_the_chart_worker_command_starts_a_worker(tmp_path: Path) -> None:
    objects = render_chart({"config": {"stateDir": str(tmp_path)}})
    container = one(objects, "Deployment", "smarter-worker")["spec"]["template"]["spec"]["containers"][0]
    # Without SMARTER_REDIS_URL the broker is in memory: enough to see the worker come up.
    worker = start(container["command"], tmp_path)
    lines: list[str] = []
    try:
        assert worker.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            readable, _, _ = select.select([worker.stdout], [], [], 1)
            if not readable:
                continue
            line = worker.stdout.readline()
            if not line:
                break
            lines.append(line)
            if " ready." in line:
                break
    finally:
        lines.append(stop(worker))
    output = "".join(lines)
    assert " ready." in output, output[-3000:]
    assert "smarter" in output  # the queue named in the command


def test_the_chart_migrate_command_migrates_a_fresh_database(tmp_path: Path) -> None:
    objects = render_chart({"config": {"stateDir": str(tmp_path)}})
    container = one(objects, "Job", "smarter-migrate")["spec"]["template"]["spec"]["containers"][0]
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SMARTER_")}
    environment.update({variable["name"]: variable["value"] for variable in container["env"]})
    environment = {key: value for key, value in environment.items() if not key.endswith("_FILE")}
    environment["SMARTER_STATE_DIR"] = str(tmp_path)
    argv = [sys.executable, *container["command"][1:]]
    result = subprocess.run(
        argv, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "smarter.sqlite3").stat().st_size > 0
