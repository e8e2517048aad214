"""A suite run on the embedded default, as `make run` serves it: a SQLite file, tasks run in the
web process (no broker), the offline provider, the demo data; started and read over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[4]


def embedded_environment(state_dir: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SMARTER_")}
    environment.update(
        SMARTER_STATE_DIR=str(state_dir), SMARTER_LOG_FORMAT="text", DJANGO_SETTINGS_MODULE="smarter.settings"
    )
    return environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_demo_suite_runs_and_passes_on_sqlite_with_tasks_in_the_web_process(tmp_path: Path) -> None:
    environment = embedded_environment(tmp_path)
    for command in (["migrate", "--noinput", "-v", "0"], ["seed_demo"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    key = json.loads((tmp_path / "demo-credentials.json").read_text())["apiKey"]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "smarter.asgi:application", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Token {key}"}, timeout=300
        ) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None and time.monotonic() < deadline, "the platform did not start"
                time.sleep(0.3)

            started = client.post("/api/v1/evals/demo_golden/runs/", json={})
            assert started.status_code == 202, started.text
            detail = client.get(f"/api/v1/evals/demo_golden/runs/{started.json()['data']['id']}/").json()["data"]
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert started.status_code == 202, started.text
    assert started.json()["data"]["status"] == "passed"  # asked before the answer: no broker
    assert (detail["cases"], detail["passed"], detail["failed"], detail["errors"]) == (4, 4, 0, 0)
    assert (detail["provider"], detail["model"]) == ("offline", "smarter-offline")
    assert (tmp_path / "smarter.sqlite3").stat().st_size > 0
