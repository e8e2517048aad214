"""The client is installable alone: its code imports nothing of Django or the server."""

from __future__ import annotations

import ast
from pathlib import Path

CLI_PACKAGE = Path(__file__).resolve().parent.parent
SERVER_MODULES = (
    "django",
    "rest_framework",
    "celery",
    "smarter.apps",
    "smarter.lib",
    "smarter.common",
    "smarter.settings",
)


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_no_cli_module_imports_server_code() -> None:
    sources = sorted(CLI_PACKAGE.glob("*.py"))
    assert sources, "the cli package has modules"
    offending = {
        f"{path.name}: {module}"
        for path in sources
        for module in imported_modules(path)
        if module == "smarter" or module.startswith(tuple(f"{name}" for name in SERVER_MODULES))
    }
    assert offending == set()
