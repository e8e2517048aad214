"""CONTRIBUTING.md stays true to the code: what it names exists, its commands run as written.

A guide whose steps name a file, a function or a `make` target that was renamed sends the next
contributor the wrong way; these tests fail on the rename instead.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "CONTRIBUTING.md"
SOURCES = (REPO / "smarter", REPO / "cli" / "smarter_cli", REPO / ".github" / "scripts")


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def code_spans() -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", guide()))


@cache
def source_text() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8")
        for folder in SOURCES
        for path in folder.rglob("*.py")
        if "migrations" not in path.parts and "tests" not in path.parts
    )


def test_every_path_the_guide_names_exists() -> None:
    named = {
        match.rstrip("/.,")
        for span in code_spans()
        for match in re.findall(r"(?:^|\s)((?:smarter|cli|docs|tests|\.github|\.ci)/[\w./-]*)", span)
    }
    named |= set(re.findall(r"\]\(((?:docs/)?[\w.-]+\.md)\)", guide()))
    assert len(named) > 20
    assert sorted(path for path in named if not (REPO / path).exists()) == []


def test_every_file_named_alone_exists_at_the_root_or_in_the_code() -> None:
    # `pyproject.toml` at the root; `clients.py` inside the package its step is about.
    alone = {span for span in code_spans() if re.fullmatch(r"\.?[\w-]+\.(?:toml|md|yml|example|py)", span)}
    assert {"pyproject.toml", "clients.py", ".env.example"} <= alone
    missing = [
        name
        for name in sorted(alone)
        if not (REPO / name).exists() and not any(folder.rglob(name) for folder in SOURCES)
    ]
    assert missing == []


def test_every_function_and_class_the_guide_names_is_defined() -> None:
    functions = {name.rsplit(".", 1)[-1] for span in code_spans() for name in re.findall(r"^([A-Za-z_][\w.]*)\(", span)}
    classes = {span for span in code_spans() if re.fullmatch(r"[A-Z][a-z]+[A-Z]\w*", span)}
    assert len(functions) > 8 and len(classes) > 8
    undefined = [
        name
        for name in sorted(functions | classes)
        if not re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{name}\b", source_text(), re.MULTILINE)
    ]
    assert undefined == []


def test_every_constant_the_guide_names_is_defined() -> None:
    constants = {span for span in code_spans() if re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", span)}
    constants = {name for name in constants if not name.startswith("SMARTER_")}
    assert {"APPLY_ORDER", "KIND_ORDER", "KNOWN_KINDS", "DEFAULT_PRICES"} <= constants
    undefined = [
        name for name in sorted(constants) if not re.search(rf"^{name}\b[^=\n]*=", source_text(), re.MULTILINE)
    ]
    assert undefined == []


def test_every_make_target_the_guide_names_exists() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    named = set(re.findall(r"\bmake ([a-z][a-z-]*)", guide()))
    assert {"run", "test", "lint", "format", "help"} <= named
    assert named - targets == set()


def test_every_setting_the_guide_names_is_a_variable_of_the_configuration() -> None:
    listed = (REPO / ".env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"\bSMARTER_[A-Z_]+[A-Z]\b", guide())) - {
        "SMARTER_REQUIRE_SERVICES",
        "SMARTER_TEST_REDIS_URL",
    }
    assert named
    assert sorted(name for name in named if name not in listed) == []


@pytest.mark.parametrize("index", range(len(re.findall(r"```bash\n", GUIDE.read_text(encoding="utf-8")))))
def test_every_shell_block_is_valid_bash(index: int, tmp_path: Path) -> None:
    block = re.findall(r"```bash\n(.*?)```", guide(), re.DOTALL)[index]
    script = tmp_path / "block.sh"
    script.write_text(block.replace("<your fork>", "https://example.com/fork.git"), encoding="utf-8")

    checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)

    assert checked.returncode == 0, f"{block}\n{checked.stderr}"
