"""Fixtures for the command-line client's tests: the program run in-process, and the servers.

Most tests run the client in the test process with Typer's `CliRunner`: the same program a
user runs (the `smarter` command and its options, standard input, output and error, the exit
code), with its own temporary HOME and only the environment a user would have, without starting
a Python process per command. Tests that need a real terminal (prompts, Ctrl-C, a spinner,
colours) drive the installed `smarter` script over a pseudo-terminal with pexpect instead.

The servers are shared by every test of the session: the real server under WSGI (pytest-django's
`live_server`) and under ASGI (uvicorn, as production runs the async chat doors), each test on
a database emptied after it (`transactional_db`), and a stand-in server for what the real one
cannot be made to do on demand.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter_cli.main import app, hoist_global_options
from tests.standin import StandInServer

MANIFESTS = Path(__file__).parent / "manifests"

# What the client reads from the environment: unset in each run unless the test sets it, so
# nothing of the test run's own environment reaches the client.
CLIENT_VARIABLES = (
    "SMARTER_BASE_URL",
    "SMARTER_API_KEY",
    "SMARTER_CLI_TIMEOUT",
    "SMARTER_CLI_POLL_SECONDS",
    "NO_COLOR",
    "FORCE_COLOR",
    "TTY_COMPATIBLE",
    "TERM",
)


def cli_command() -> list[str]:
    """The installed console script when there is one (it is what users run), else the module."""
    script = Path(sys.executable).parent / "smarter"
    if script.exists():
        return [str(script)]
    found = shutil.which("smarter")
    return [found] if found else [sys.executable, "-m", "smarter_cli"]


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
    """A whole environment for the `smarter` process of a terminal test: what a user's shell holds."""
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
    """Run `smarter ARGS…` in-process; keyword arguments are environment variables (None: unset)."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, **env: str | None) -> Result:
        environment: dict[str, str | None] = dict.fromkeys(CLIENT_VARIABLES)
        environment.update(HOME=str(cli_home), LANG="C.UTF-8", COLUMNS="200")
        environment.update(env)
        # As the console script does: `--base-url`/`--api-key` may come after the verb.
        result = runner.invoke(app, hoist_global_options(list(args)), input=input, env=environment, prog_name="smarter")
        # Whatever the outcome, the user never sees a Python traceback: every failure is a
        # message and an exit code (typer.Exit), never an exception out of the program.
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"smarter {' '.join(args)} raised {result.exception!r}") from result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

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
