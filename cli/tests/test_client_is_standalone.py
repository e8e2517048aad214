"""The client is a distribution of its own: `pip install ./cli` in a fresh virtual environment
brings the client and its five dependencies, nothing of the server, and the installed `smarter`
runs (and chats) where Django is not installed at all."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.standin import API_KEY, StandInServer

CLI_PROJECT = Path(__file__).resolve().parents[1]
CLI_PACKAGE = CLI_PROJECT / "smarter_cli"
# What the client may need, as pip names them (normalised): the client itself and its dependencies.
DEPENDENCIES = {"httpx", "httpx-sse", "typer", "rich", "pyyaml"}
# Distributions and modules of the server: none may come with the client.
SERVER_DISTRIBUTIONS = {
    "smarter",
    "django",
    "djangorestframework",
    "celery",
    "boto3",
    "kubernetes",
    "aiohttp",
    "redis",
    "uvicorn",
    "pydantic-settings",
}
SERVER_MODULES = (
    "django",
    "rest_framework",
    "celery",
    "boto3",
    "kubernetes",
    "smarter",
)


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    # Only what a user's shell holds: no virtual environment of the test run leaks in.
    environment = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    # How this machine's pip reaches its package index (settings, proxies, certificates).
    environment.update(
        (name, value)
        for name, value in os.environ.items()
        if name.startswith("PIP_") or name.lower().endswith("_proxy") or name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    )
    environment.update(env)
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600, check=False)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment in which `pip install ./cli` was run, as a user would."""
    workdir = tmp_path_factory.mktemp("standalone")
    # A copy of ./cli, so that building it writes nothing into the source tree.
    project = workdir / "cli"
    shutil.copytree(CLI_PROJECT, project, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    environment = workdir / "venv"
    created = run([sys.executable, "-m", "venv", str(environment)])
    assert created.returncode == 0, created.stderr
    installed = run([str(environment / "bin" / "python"), "-m", "pip", "install", "--quiet", str(project)])
    assert installed.returncode == 0, installed.stderr
    return environment


def test_pip_install_brings_the_client_and_its_dependencies_and_nothing_of_the_server(venv: Path) -> None:
    listed = run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"])
    declared = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print('\\n'.join(m.requires('smarter-cli')))",
        ]
    )

    installed = {normalised(item["name"]) for item in json.loads(listed.stdout)}
    requirements = {normalised(re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0]) for line in declared.stdout.split()}
    assert requirements == DEPENDENCIES
    assert {"smarter-cli", *DEPENDENCIES} <= installed
    assert installed & SERVER_DISTRIBUTIONS == set()


def test_the_installed_client_runs_where_django_is_not_installed(venv: Path) -> None:
    version = tomllib.loads((CLI_PROJECT / "pyproject.toml").read_text())["project"]["version"]

    helped = run([str(venv / "bin" / "smarter"), "--help"], COLUMNS="120")
    versioned = run([str(venv / "bin" / "smarter"), "version", "--client"])
    django = run([str(venv / "bin" / "python"), "-c", "import django"])

    assert helped.returncode == 0, helped.stderr
    assert "Usage: smarter" in helped.stdout
    assert (versioned.returncode, versioned.stdout) == (0, f"client: {version}\n")
    assert "No module named 'django'" in django.stderr


def test_importing_every_module_of_the_installed_client_imports_no_server_code(venv: Path) -> None:
    program = (
        "import importlib, json, pkgutil, sys, smarter_cli\n"
        "for module in pkgutil.iter_modules(smarter_cli.__path__):\n"
        "    if module.name != '__main__':\n"
        "        importlib.import_module(f'smarter_cli.{module.name}')\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )

    imported = run([str(venv / "bin" / "python"), "-c", program])

    assert imported.returncode == 0, imported.stderr
    modules = json.loads(imported.stdout)
    assert "smarter_cli.main" in modules and "httpx_sse" in modules
    assert [name for name in modules if name.split(".")[0] in SERVER_MODULES] == []


def test_the_installed_client_chats_with_a_server(venv: Path, standin: StandInServer, tmp_path: Path) -> None:
    chatted = run(
        [str(venv / "bin" / "smarter"), "chat", "support", "-p", "weather"],
        HOME=str(tmp_path),
        SMARTER_BASE_URL=standin.url,
        SMARTER_API_KEY=API_KEY,
    )

    assert (chatted.returncode, chatted.stderr) == (0, "")
    assert chatted.stdout.splitlines() == [
        '→ weather({"city": "Paris"})',
        '← weather: {"celsius": 21} (12 ms)',
        "You said: weather (turn 1 of session-1)",
    ]


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_no_module_of_the_client_names_server_code() -> None:
    sources = sorted(CLI_PACKAGE.glob("*.py"))
    assert len(sources) > 5, "the client's modules"
    offending = {
        f"{path.name}: {module}"
        for path in sources
        for module in imported_modules(path)
        if module.split(".")[0] in SERVER_MODULES
    }
    assert offending == set()
