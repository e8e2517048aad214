"""docs/deploy.md: its commands parse, and what they name exists."""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .support import REPO, SECRET_SETTINGS, TERRAFORM, production_values, render_chart
from .test_deploy_terraform import blocks

GUIDE = REPO / "docs" / "deploy.md"


def fenced(language: str) -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    return [match.group(1) for match in re.finditer(rf"```{language}\n(.*?)```", text, re.DOTALL)]


def merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def test_every_shell_block_is_valid_bash(tmp_path: Path) -> None:
    blocks_of_bash = fenced("bash")
    assert len(blocks_of_bash) > 10
    for index, block in enumerate(blocks_of_bash):
        script = tmp_path / f"block-{index}.sh"
        script.write_text(block, encoding="utf-8")
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{block}\n{result.stderr}"


def test_every_terraform_output_the_guide_reads_exists() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    named = set(re.findall(r"terraform output (?:-raw )?([a-z_]+)", text))
    assert {"cluster_name", "redis_url", "app_role_arn"} <= named
    for environment in ("staging", "prod"):
        outputs = set(blocks(TERRAFORM / "environments" / environment, "output"))
        assert named <= outputs, f"{environment} lacks {named - outputs}"
    bootstrap = set(blocks(TERRAFORM / "bootstrap", "output"))
    assert {"state_bucket", "lock_table", "region"} <= bootstrap


def test_every_path_the_guide_names_exists() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:helm|aws|\.github|docs|tests)/[^`\s]*)`", text))
    paths |= set(re.findall(r"\b(helm/charts/smarter(?:/[\w.-]+)?)", text))
    assert paths
    for path in paths:
        assert (REPO / path.rstrip("/")).exists(), path


def test_the_values_example_of_the_guide_renders_with_production_values() -> None:
    (example,) = [block for block in fenced("yaml") if block.lstrip().startswith("image:")]
    values = merge(production_values(), yaml.safe_load(example))
    objects = render_chart(values)
    web = next(item for item in objects if item["metadata"]["name"] == "smarter-web" and item["kind"] == "Deployment")
    assert web["spec"]["template"]["spec"]["containers"][0]["image"].endswith("/smarter-prod:0.1.0")


def test_the_names_the_guide_uses_are_the_charts() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    names = {(item["kind"], item["metadata"]["name"]) for item in render_chart(production_values())}
    for kind, name in re.findall(r"(deploy(?:ment)?)/(smarter-[a-z]+)", text):
        assert ("Deployment", name) in names, f"{kind}/{name}"
    assert "existingSecret: smarter-secrets" in (REPO / "helm/charts/smarter/values-production.yaml").read_text()
    assert "create secret generic smarter-secrets" in text
    for setting in SECRET_SETTINGS:
        assert f"--from-literal={setting}=" in text, setting
    issuer = production_values()["ingress"]["certManager"]["clusterIssuer"]
    assert f"name: {issuer}" in text
