"""Releasing: one semantic version for the platform and its client, a CHANGELOG.md in the Keep a
Changelog format, and the workflows that tag a release, build its image and publish the client.

The release check (.github/scripts/release_check.py) runs as release.yml runs it, in a process,
on this repository and on copies of it made wrong in each way a release can be.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
CHECK = Path(".github") / "scripts" / "release_check.py"
VERSION_FILES = ("pyproject.toml", "cli/pyproject.toml", "smarter/__init__.py", "CHANGELOG.md")
SEMANTIC_VERSION = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


def current_version() -> str:
    return str(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"])


def release_check(version: str, root: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / CHECK), version], cwd=root, capture_output=True, text=True, check=False
    )


def workflow(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    loaded["on"] = loaded.pop(True, loaded.get("on"))  # PyYAML reads the key `on` as True
    return loaded


@pytest.fixture
def copy_of_the_repository(tmp_path: Path) -> Path:
    """The files the release check reads, copied, to be made wrong one at a time."""
    for name in (str(CHECK), *VERSION_FILES):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


# --- one version ----------------------------------------------------------------------------------


def test_the_platform_and_the_client_carry_the_same_semantic_version() -> None:
    client = tomllib.loads((REPO / "cli" / "pyproject.toml").read_text())["project"]["version"]
    package = re.search(r'^__version__ = "([^"]+)"', (REPO / "smarter" / "__init__.py").read_text(), re.MULTILINE)

    assert SEMANTIC_VERSION.fullmatch(current_version())
    assert package is not None
    assert client == package.group(1) == current_version()


def test_the_release_check_passes_on_this_repository_and_prints_the_changelog_section() -> None:
    result = release_check(current_version())

    assert (result.returncode, result.stderr) == (0, "")
    text = (REPO / "CHANGELOG.md").read_text()
    section = text.split(f"## [{current_version()}]", 1)[1].split("\n## [", 1)[0]
    assert result.stdout == section.split("\n", 1)[1].strip() + "\n"


@pytest.mark.parametrize("version", ["v0.1.0", "0.1", "0.1.0.1", "0.1.0-rc.1", "01.2.3", "0.1.0 ", "", "latest"])
def test_a_version_that_is_not_x_y_z_is_refused_before_anything_else(version: str) -> None:
    result = release_check(version)

    assert (result.returncode, result.stdout) == (2, "")
    assert "is not a version X.Y.Z" in result.stderr


@pytest.mark.parametrize(
    ("path", "old", "new", "message"),
    [
        ("pyproject.toml", 'version = "{v}"', 'version = "9.9.9"', "pyproject.toml says '9.9.9', not '{v}'."),
        ("cli/pyproject.toml", 'version = "{v}"', 'version = "9.9.9"', "cli/pyproject.toml says '9.9.9', not '{v}'."),
        (
            "smarter/__init__.py",
            '__version__ = "{v}"',
            '__version__ = "9.9.9"',
            "smarter/__init__.py says '9.9.9', not '{v}'.",
        ),
        (
            "CHANGELOG.md",
            "## [{v}]",
            "## [Unreleased again]",
            "CHANGELOG.md has no section `## [{v}]` (rename `## [Unreleased]` to it first).",
        ),
    ],
    ids=["platform", "client", "package", "changelog"],
)
def test_a_release_whose_files_disagree_is_refused_naming_the_file(
    copy_of_the_repository: Path, path: str, old: str, new: str, message: str
) -> None:
    version = current_version()
    target = copy_of_the_repository / path
    text = target.read_text()
    assert old.format(v=version) in text
    target.write_text(text.replace(old.format(v=version), new, 1))

    result = release_check(version, copy_of_the_repository)

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [message.format(v=version)]


def test_a_version_nothing_carries_is_refused_naming_every_file() -> None:
    result = release_check("99.0.0")

    assert result.returncode == 1
    assert [line.split(" ", 1)[0] for line in result.stderr.splitlines()] == [
        "pyproject.toml",
        "cli/pyproject.toml",
        "smarter/__init__.py",
        "CHANGELOG.md",
    ]


# --- the changelog ----------------------------------------------------------------------------------


def test_the_changelog_keeps_its_format_unreleased_first_then_versions_newest_first() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)

    assert text.startswith("# Changelog\n")
    assert "[Keep a Changelog]" in text and "[Semantic Versioning]" in text
    assert headings[0] == "Unreleased"
    versions = headings[1:]
    assert versions and all(SEMANTIC_VERSION.fullmatch(version) for version in versions)
    as_numbers = [tuple(int(part) for part in version.split(".")) for version in versions]
    assert as_numbers == sorted(as_numbers, reverse=True)
    assert current_version() in versions


# --- the workflows ----------------------------------------------------------------------------------


def test_release_checks_then_tags_drafts_the_release_and_starts_the_build() -> None:
    release = workflow("release.yml")
    (job,) = release["jobs"].values()
    runs = [step.get("run", "") for step in job["steps"]]

    assert release["on"]["workflow_dispatch"]["inputs"]["version"]["required"] is True
    assert job["if"] == "github.ref == 'refs/heads/main'"
    assert job["permissions"] == {"contents": "write", "actions": "write"}
    assert job["env"]["VERSION"] == "${{ inputs.version }}"
    # In this order: nothing is tagged before the check passed, the build runs on the tag.
    check, tag, draft, build = (
        next(i for i, run in enumerate(runs) if word in run)
        for word in (
            f'python {CHECK} "$VERSION"',
            'git push origin "refs/tags/v$VERSION"',
            'gh release create "v$VERSION" --draft --verify-tag',
            'gh workflow run build.yml --ref "v$VERSION"',
        )
    )
    assert check < tag < draft < build
    # The input reaches the shell as a variable, never pasted into the script (no injection).
    assert all("${{" not in run for run in runs)


def test_build_publishes_the_client_from_a_tag_with_trusted_publishing() -> None:
    build = workflow("build.yml")
    jobs = build["jobs"]
    cli, publish = jobs["cli"], jobs["publish-cli"]
    cli_runs = " ".join(step.get("run", "") for step in cli["steps"])
    (upload,) = [step for step in cli["steps"] if step.get("uses", "").startswith("actions/upload-artifact@")]
    (download,) = [step for step in publish["steps"] if step.get("uses", "").startswith("actions/download-artifact@")]
    (pypi,) = [step for step in publish["steps"] if step.get("uses", "").startswith("pypa/gh-action-pypi-publish@")]

    assert "workflow_dispatch" in build["on"]  # release.yml starts it on the tag
    assert "python -m build --outdir dist cli" in cli_runs
    assert "twine check --strict" in cli_runs
    assert '"v$version" != "$GITHUB_REF_NAME"' in cli_runs  # the client's version is the tag's
    assert upload["with"]["name"] == download["with"]["name"]
    assert publish["needs"] == "cli"
    assert publish["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    # Trusted publishing: no token or password is given to the action.
    assert not set(pypi.get("with") or {}) & {"password", "user", "username"}
    assert cli["permissions"] == {"contents": "read"}


def test_the_image_is_tagged_with_the_version_whether_the_tag_was_pushed_or_dispatched() -> None:
    image = workflow("build.yml")["jobs"]["image"]
    (meta,) = [step for step in image["steps"] if step.get("uses", "").startswith("docker/metadata-action@")]

    assert "type=semver,pattern={{version}},value=${{ github.ref_name }}" in meta["with"]["tags"]
