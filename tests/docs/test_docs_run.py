"""Every shell block of the docs and the READMEs runs as written against a platform started the
way `make run` starts it (embedded defaults: SQLite, tasks in the web process, the demo data),
page after page, as a reader follows them (see shell_blocks.py for what that means exactly)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .shell_blocks import Block, blocks_of, page_script

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", ROOT / "cli" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Pages whose commands need what no laptop has; their own checks say what is checked instead.
PAGES_NOT_RUN = {
    "docs/deploy.md": "an AWS account and a Kubernetes cluster: tests/deploy/ checks its commands",
}
# What a page's commands may read from a checkout, linked into the folder they run in.
CHECKOUT = (".venv", "manage.py", "README.md", "docs", "cli")
PAGE_TIMEOUT = 600  # seconds; the slowest page (the client's) takes about one minute
READY_TIMEOUT = 300  # seconds for `make run` to migrate, seed the demo and serve
# What the pages' commands use besides the platform's own (CI installs them).
TOOLS = ("make", "bash", "curl", "jq", "sqlite3")


@dataclass(frozen=True)
class Platform:
    port: int
    api_key: str
    account_number: str
    folder: Path  # where `make run` keeps its state (`.smarter/`) and the pages run
    metrics_token: str


def pages() -> list[tuple[Path, list[Block]]]:
    found = []
    for document in DOCUMENTS:
        where = str(document.relative_to(ROOT))
        blocks = blocks_of(document, ROOT)
        if blocks and where not in PAGES_NOT_RUN:
            found.append((document, blocks))
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment_of_a_laptop() -> dict[str, str]:
    """The environment without the test run's own settings (its database, Redis, flags)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("SMARTER_")}


def banner_value(banner: str, label: str) -> str:
    for line in banner.splitlines():
        if line.strip().startswith(label):
            return line.strip()[len(label) :].strip()
    raise AssertionError(f"`make run` printed no {label!r}:\n{banner}")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the docs' commands need {', '.join(missing)}, not installed here")
    folder = tmp_path_factory.mktemp("checkout")
    for name in CHECKOUT:
        (folder / name).symlink_to(ROOT / name)
    port = free_port()
    metrics_token = secrets.token_hex(16)
    log = folder / "make-run.log"
    env = environment_of_a_laptop() | {
        "SMARTER_STATE_DIR": str(folder / ".smarter"),
        "SMARTER_METRICS_TOKEN": metrics_token,
    }
    with log.open("w", encoding="utf-8") as output:
        server = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            assert server.poll() is None, f"`make run` ended:\n{log.read_text(encoding='utf-8')}"
            assert time.monotonic() < deadline, f"`make run` did not serve:\n{log.read_text(encoding='utf-8')}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        banner = log.read_text(encoding="utf-8")
        yield Platform(
            port=port,
            api_key=banner_value(banner, "API key"),
            account_number=banner_value(banner, "Account number"),
            folder=folder,
            metrics_token=metrics_token,
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def reader_environment(platform: Platform) -> dict[str, str]:
    """What a reader has in their shell: the venv's commands on PATH (`smarter`, `python`), the
    key `make run` printed, the platform's address, and a home folder of their own."""
    home = platform.folder / "home"
    home.mkdir(exist_ok=True)
    base_url = f"http://localhost:{platform.port}"
    return environment_of_a_laptop() | {
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "KEY": platform.api_key,
        "SMARTER": base_url,
        "SMARTER_API_KEY": platform.api_key,
        "SMARTER_BASE_URL": base_url,
        "SMARTER_STATE_DIR": str(platform.folder / ".smarter"),  # for `manage.py` commands
        "SMARTER_METRICS_TOKEN": platform.metrics_token,
        "COLUMNS": "120",
    }


def test_the_docs_have_shell_blocks_to_run_and_say_why_of_each_that_is_not() -> None:
    blocks = [block for _, page in pages() for block in page]
    run = [block for block in blocks if block.not_run is None and block.language != "yaml"]
    saved = [block for block in blocks if block.language == "yaml"]
    assert len(run) >= 60, [block.where for block in run]
    assert len(saved) >= 15, [block.where for block in saved]
    for block in blocks:
        assert block.not_run is None or len(block.not_run) > 20, f"{block.where}: say why it is not run"
    assert {"README.md", "docs/cli.md", "docs/plugins.md", "docs/evaluation.md"} <= {
        str(document.relative_to(ROOT)) for document, _ in pages()
    }


def test_every_shell_block_of_the_docs_runs_as_written(platform: Platform) -> None:
    env = reader_environment(platform)
    failures = []
    for document, blocks in pages():
        script = page_script(
            blocks, port=platform.port, account_number=platform.account_number, api_key=platform.api_key
        )
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=platform.folder,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PAGE_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            failures.append(
                f"{document.relative_to(ROOT)}: exit status {result.returncode}\n"
                f"--- standard output (end)\n{result.stdout[-2000:]}\n"
                f"--- standard error (end; the last `--- file:line` is the block)\n{result.stderr[-3000:]}"
            )
    assert not failures, "\n\n".join(failures)


def test_the_platform_the_docs_run_against_is_the_one_make_run_serves(platform: Platform) -> None:
    # The harness reads the key and the account from the banner, as a reader does.
    state = json.loads((platform.folder / ".smarter" / "demo-credentials.json").read_text(encoding="utf-8"))
    assert (state["apiKey"], state["accountNumber"]) == (platform.api_key, platform.account_number)
    answer = httpx.get(
        f"http://localhost:{platform.port}/api/v1/cli/whoami/",
        headers={"Authorization": f"Token {platform.api_key}"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.json()["data"]["username"] == "admin"
