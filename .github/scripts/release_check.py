"""Before a release is tagged: the version to release is X.Y.Z, the platform and the client both
carry it, and CHANGELOG.md has its section, which is printed (the release's notes).

    python .github/scripts/release_check.py 0.2.0 > release-notes.md

Exit 0 when all agree; 1 when a file disagrees (each one named on standard error); 2 when the
version is not X.Y.Z. Run by .github/workflows/release.yml; it reads only files of the checkout.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEMANTIC_VERSION = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


def versions(root: Path) -> dict[str, str | None]:
    """Where the version is written, and what each place says."""
    platform = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    client = tomllib.loads((root / "cli" / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    package = re.search(r'^__version__ = "([^"]+)"', (root / "smarter" / "__init__.py").read_text(), re.MULTILINE)
    return {
        "pyproject.toml": platform,
        "cli/pyproject.toml": client,
        "smarter/__init__.py": package.group(1) if package else None,
    }


def changelog_section(root: Path, version: str) -> str | None:
    """The text under `## [version]` of CHANGELOG.md, up to the next version's heading."""
    text = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    heading = re.search(rf"^## \[{re.escape(version)}\][^\n]*\n", text, re.MULTILINE)
    if heading is None:
        return None
    following = re.search(r"^## \[", text[heading.end() :], re.MULTILINE)
    body = text[heading.end() : heading.end() + following.start()] if following else text[heading.end() :]
    return body.strip()


def check(version: str, root: Path = ROOT) -> tuple[int, str, list[str]]:
    """The exit code, the release notes and the problems found."""
    if not SEMANTIC_VERSION.fullmatch(version):
        return 2, "", [f"{version!r} is not a version X.Y.Z (semantic versioning, without a leading v)."]
    problems = [
        f"{place} says {found!r}, not {version!r}." for place, found in versions(root).items() if found != version
    ]
    notes = changelog_section(root, version)
    if not notes:
        problems.append(f"CHANGELOG.md has no section `## [{version}]` (rename `## [Unreleased]` to it first).")
    return (1 if problems else 0), notes or "", problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: release_check.py X.Y.Z", file=sys.stderr)
        return 2
    code, notes, problems = check(argv[0])
    for problem in problems:
        print(problem, file=sys.stderr)
    if code == 0:
        print(notes)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
