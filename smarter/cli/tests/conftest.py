"""Fixtures for the command-line client's tests: the real program in a subprocess.

The CLI always runs as a separate process (`smarter …`), with its own temporary HOME and only
the environment a user would have, against either the live Django server (pytest-django's
`live_server`) or a stand-in server that speaks the documented protocol.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.cli.tests.standin import StandInServer

MANIFESTS = Path(__file__).parent / "manifests"


def cli_command() -> list[str]:
    """The installed console script when there is one (it is what users run), else the module."""
    script = Path(sys.executable).parent / "smarter"
    if script.exists():
        return [str(script)]
    found = shutil.which("smarter")
    return [found] if found else [sys.executable, "-m", "smarter.cli"]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def out_lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def err_lines(self) -> list[str]:
        return self.stderr.splitlines()


RunCli = Callable[..., Result]


def cli_environment(home: Path, **extra: str | None) -> dict[str, str]:
    """What a user's shell would hold: no SMARTER_* of the test run leaks into the client."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "COLUMNS": "200",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name, value in extra.items():
        if value is not None:
            environment[name] = value
    return environment


@pytest.fixture
def cli_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def run_cli(cli_home: Path) -> RunCli:
    """Run `smarter ARGS…`; keyword arguments are environment variables (None: unset)."""

    def run(*args: str, input: str | None = None, timeout: float = 60, **env: str | None) -> Result:
        completed = subprocess.run(
            [*cli_command(), *args],
            input=input,
            capture_output=True,
            text=True,
            env=cli_environment(cli_home, **env),
            timeout=timeout,
            check=False,
        )
        # Whatever the outcome, the user never sees a Python traceback.
        assert "Traceback" not in completed.stderr, completed.stderr
        return Result(completed.returncode, completed.stdout, completed.stderr)

    return run


@dataclass
class LiveServer:
    url: str
    owner: Persona
    teammate: Persona
    outsider: Persona


# The course catalogue the SqlConnection of manifests/chatbot_kinds names (title, cost).
COURSES = [("Fudge for beginners", 40), ("Toffee in a weekend", 90), ("Advanced gobstoppers", 250)]


@pytest.fixture
def plugin_data(smarter_settings: Any, tmp_path: Path) -> Path:
    """The server's plugin data folder; `personas` puts `courses.sqlite3` in Acme's folder."""
    folder = tmp_path / "plugin-data"
    folder.mkdir()
    smarter_settings.plugin_data_dir = str(folder)
    return folder


def courses_database(folder: Path) -> None:
    """The course catalogue the SqlConnection of manifests/chatbot_kinds names, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(folder / "courses.sqlite3") as database:
        database.execute("CREATE TABLE courses (title TEXT NOT NULL, cost INTEGER NOT NULL)")
        database.executemany("INSERT INTO courses VALUES (?, ?)", COURSES)
    database.close()


def personas(url: str, plugin_data: Path) -> LiveServer:
    acme = make_account("Acme")
    courses_database(plugin_data / acme.account_number)
    return LiveServer(
        url=url,
        owner=make_persona(acme, "owner", Role.ADMIN),
        teammate=make_persona(acme, "teammate", Role.MEMBER),
        outsider=make_persona(make_account("Globex"), "outsider", Role.ADMIN),
    )


@pytest.fixture
def server(live_server: Any, transactional_db: Any, plugin_data: Path) -> LiveServer:
    """The real server (threaded WSGI) with the three personas: two in Acme, one in Globex."""
    return personas(live_server.url, plugin_data)


@pytest.fixture
def chat_server(asgi_server: Any, plugin_data: Path) -> LiveServer:
    """The real server under ASGI (uvicorn), as production runs the async chat doors."""
    return personas(asgi_server.url, plugin_data)


@pytest.fixture
def as_owner(run_cli: RunCli, server: LiveServer) -> RunCli:
    """`run_cli` with the owner's key and the live server's URL in the environment."""

    def run(*args: str, **kwargs: Any) -> Result:
        kwargs.setdefault("SMARTER_BASE_URL", server.url)
        kwargs.setdefault("SMARTER_API_KEY", server.owner.key)
        return run_cli(*args, **kwargs)

    return run


@pytest.fixture
def as_chat_owner(run_cli: RunCli, chat_server: LiveServer) -> RunCli:
    """`run_cli` with the owner's key and the ASGI server's URL in the environment."""

    def run(*args: str, **kwargs: Any) -> Result:
        kwargs.setdefault("SMARTER_BASE_URL", chat_server.url)
        kwargs.setdefault("SMARTER_API_KEY", chat_server.owner.key)
        return run_cli(*args, **kwargs)

    return run


@pytest.fixture
def standin() -> Iterator[StandInServer]:
    stand_in = StandInServer()
    stand_in.start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


@pytest.fixture
def pexpect() -> Any:
    """pexpect drives the program over a pseudo-terminal, as a person would (a dev dependency)."""
    return pytest.importorskip("pexpect")


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: bound to learn a free number, then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
