"""Dependency updates: Dependabot watches every manifest of the repository, and Mergify merges
the green minor and patch updates, and nothing else.

Both files are read by services outside the repository, which ignore or reject what they do not
understand without telling anyone: each is validated here against a schema written from its
documented keys (tests/repository/schemas), and its names are checked against the repository.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).with_name("schemas")
DEPENDABOT = REPO / ".github" / "dependabot.yml"
MERGIFY = REPO / ".mergify.yml"
CI = REPO / ".github" / "workflows" / "ci.yml"
GROUP = "minor-and-patch"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def problems(schema_name: str, document: Any) -> list[str]:
    validator = Draft202012Validator(json.loads((SCHEMAS / schema_name).read_text(encoding="utf-8")))
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    return listed.stdout.split()


def ci_check_names() -> set[str]:
    """The check each job of ci.yml reports on a pull request: its `name`."""
    return {job["name"] for job in load(CI)["jobs"].values()}


# --- Dependabot ---------------------------------------------------------------------------------


def test_dependabot_configuration_follows_its_schema() -> None:
    assert problems("dependabot.schema.json", load(DEPENDABOT)) == []


BROKEN_DEPENDABOT = {
    "a misspelt key": lambda config: config["updates"][0].update(schedul=config["updates"][0].pop("schedule")),
    "an unknown option": lambda config: config["updates"][0].update(automerge=True),
    "an interval that does not exist": lambda config: config["updates"][0]["schedule"].update(interval="hourly"),
    "a day that does not exist": lambda config: config["updates"][0]["schedule"].update(day="mon"),
    "an ecosystem that does not exist": lambda config: config["updates"][0].update({"package-ecosystem": "pipenv"}),
    "a relative directory": lambda config: config["updates"][0].update(directory="cli"),
    "no directory": lambda config: config["updates"][0].pop("directory"),
    "both directory and directories": lambda config: config["updates"][0].update(directories=["/"]),
    "no schedule": lambda config: config["updates"][0].pop("schedule"),
    "an update type of a group that does not exist": lambda config: config["updates"][0]["groups"][GROUP].update(
        {"update-types": ["huge"]}
    ),
    "a semver word where ignore wants its long form": lambda config: config["updates"][2]["ignore"][0].update(
        {"update-types": ["major"]}
    ),
    "labels that are not a list": lambda config: config["updates"][0].update(labels="dependencies"),
    "version 1": lambda config: config.update(version=1),
    "no updates": lambda config: config.update(updates=[]),
}


@pytest.mark.parametrize("mistake", list(BROKEN_DEPENDABOT), ids=list(BROKEN_DEPENDABOT))
def test_the_dependabot_schema_refuses_what_github_would_ignore_or_reject(mistake: str) -> None:
    config = copy.deepcopy(load(DEPENDABOT))
    BROKEN_DEPENDABOT[mistake](config)

    assert problems("dependabot.schema.json", config) != []


def watched(ecosystem: str) -> set[str]:
    found: set[str] = set()
    for update in load(DEPENDABOT)["updates"]:
        if update["package-ecosystem"] == ecosystem:
            found.update(update.get("directories") or [update["directory"]])
    return found


def covered(directory: str, patterns: set[str]) -> bool:
    return any(re.fullmatch(re.escape(pattern).replace(r"\*", "[^/]+"), directory) for pattern in patterns)


@pytest.mark.parametrize(
    ("ecosystem", "manifest"),
    [
        ("pip", "pyproject.toml"),
        ("docker", "Dockerfile"),
        ("docker-compose", "docker-compose.yml"),
        ("npm", "package.json"),
        ("terraform", "versions.tf"),
    ],
)
def test_every_manifest_of_the_repository_is_watched(ecosystem: str, manifest: str) -> None:
    directories = {
        "/" + str(Path(path).parent).removeprefix(".") for path in tracked_files() if Path(path).name == manifest
    }
    directories = {directory.rstrip("/") or "/" for directory in directories}
    patterns = watched(ecosystem)

    assert {directory for directory in directories if not covered(directory, patterns)} == set()
    # And nothing watched is gone: every entry names a directory that holds such a manifest.
    assert {pattern for pattern in patterns if not any(covered(d, {pattern}) for d in directories)} == set()


def test_the_workflows_actions_and_both_python_distributions_are_watched() -> None:
    assert watched("github-actions") == {"/"}
    assert {"/", "/cli"} <= watched("pip")


def test_every_update_groups_its_minor_and_patch_updates_for_the_merge_rule() -> None:
    for update in load(DEPENDABOT)["updates"]:
        groups = update.get("groups") or {}
        assert groups.get(GROUP) == {"update-types": ["minor", "patch"]}, update["package-ecosystem"]


# --- Mergify ------------------------------------------------------------------------------------


def test_mergify_configuration_follows_its_schema() -> None:
    assert problems("mergify.schema.json", load(MERGIFY)) == []


BROKEN_MERGIFY = {
    "an unknown top-level key": lambda config: config.update(pull_requests_rules=config.pop("pull_request_rules")),
    "the queue action's deprecated merge_method": lambda config: config["pull_request_rules"][0]["actions"][
        "queue"
    ].update(merge_method="squash"),
    "a merge method that does not exist": lambda config: config["queue_rules"][0].update(merge_method="squish"),
    "the old `conditions` of a queue rule": lambda config: config["queue_rules"][0].update(
        conditions=config["queue_rules"][0].pop("queue_conditions")
    ),
    "a rule without conditions": lambda config: config["pull_request_rules"][0].pop("conditions"),
    "a rule without actions": lambda config: config["pull_request_rules"][0].pop("actions"),
    "an empty condition": lambda config: config["queue_rules"][0]["merge_conditions"].append(""),
    "a queue rule without a name": lambda config: config["queue_rules"][0].pop("name"),
}


@pytest.mark.parametrize("mistake", list(BROKEN_MERGIFY), ids=list(BROKEN_MERGIFY))
def test_the_mergify_schema_refuses_undocumented_and_deprecated_keys(mistake: str) -> None:
    config = copy.deepcopy(load(MERGIFY))
    BROKEN_MERGIFY[mistake](config)

    assert problems("mergify.schema.json", config) != []


def conditions_of(rule: dict[str, Any], key: str) -> list[str]:
    return [" ".join(condition.split()) for condition in rule.get(key) or []]


def test_the_queue_takes_dependabot_pull_requests_only_when_every_ci_job_passed() -> None:
    config = load(MERGIFY)
    (queue,) = config["queue_rules"]
    (rule,) = config["pull_request_rules"]
    checks = {f"check-success = {name}" for name in ci_check_names()}

    assert rule["actions"] == {"queue": {"name": queue["name"]}}
    assert {"author = dependabot[bot]", "base = main"} <= set(conditions_of(rule, "conditions"))
    queued_when = set(conditions_of(queue, "queue_conditions"))
    assert {"author = dependabot[bot]", "base = main", "-draft", "-conflict"} <= queued_when
    # Every job of ci.yml, by the name it reports: a renamed job would otherwise block every
    # update for ever, or a new one be skipped.
    assert {condition for condition in queued_when if condition.startswith("check-success")} == checks
    assert set(conditions_of(queue, "merge_conditions")) == checks
    assert queue["merge_method"] == "squash"


def title_rule() -> re.Pattern[str]:
    (queue,) = load(MERGIFY)["queue_rules"]
    (condition,) = [c for c in conditions_of(queue, "queue_conditions") if c.startswith("title ~=")]
    return re.compile(condition.removeprefix("title ~=").strip())


@pytest.mark.parametrize(
    "title",
    [
        f"Bump the {GROUP} group with 3 updates",
        f"Bump the {GROUP} group in /cli with 2 updates",
        f"Bump the {GROUP} group across 1 directory with 5 updates",
        f"build(deps): bump the {GROUP} group with 4 updates",
    ],
)
def test_a_grouped_minor_and_patch_update_is_taken(title: str) -> None:
    assert title_rule().search(title)


@pytest.mark.parametrize(
    "title",
    [
        "Bump django from 5.2.1 to 6.0.0",
        "Bump python from 3.11-slim to 3.13-slim",
        "Bump actions/checkout from 4 to 5",
        "Bump the security group with 1 update",
        f"Bump the {GROUP}-extra group with 1 update",
        f"Revert the {GROUP} group",
    ],
)
def test_a_major_update_or_another_group_waits_for_a_person(title: str) -> None:
    assert not title_rule().search(title)
