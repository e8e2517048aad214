"""What the deployment tests share: where things are, the tools they run, the chart renderer."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "charts" / "smarter"
PRODUCTION_VALUES = CHART / "values-production.yaml"
TERRAFORM = REPO / "aws" / "terraform"
WORKFLOWS = REPO / ".github" / "workflows"
KUBERNETES_VERSION = "1.31"
INSTALL_HINT = "run `bash tests/deploy/install-tools.sh`"

# The settings that are secrets: they come from a Secret, every other one from the ConfigMap.
SECRET_SETTINGS = {
    "SMARTER_SECRET_KEY",
    "SMARTER_OPENAI_API_KEY",
    "SMARTER_FERNET_KEYS",
    "SMARTER_DATABASE_URL",
    "SMARTER_REDIS_URL",
    "SMARTER_EMAIL_PASSWORD",
    "SMARTER_KNOWLEDGE_INDEX_URL",
    "SMARTER_METRICS_TOKEN",
    "SMARTER_SENTRY_DSN",
}


def tool(name: str, *candidates: Path) -> str:
    """The path of a command-line tool, from the project's tool folders or the PATH, or a skip."""
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    pytest.skip(f"needs {name}: {INSTALL_HINT}")


def run(command: list[str], *, cwd: Path = REPO, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def render_chart(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every object of the chart rendered offline with these values (the chart's own by default)."""
    helm_python = pytest.importorskip("helm_python", reason=f"needs helm-python-sdk: {INSTALL_HINT}")
    with helm_python.Chart.load(CHART) as chart:
        chart.validate_schema(values or {})
        rendered = chart.render(values or {}, name="smarter", namespace="smarter", is_install=True)
    objects = []
    for template, text in sorted(rendered.items()):
        if not template.endswith((".yaml", ".yml")):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                objects.append(document)
    return objects


def production_values() -> dict[str, Any]:
    return yaml.safe_load(PRODUCTION_VALUES.read_text(encoding="utf-8"))


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in objects if item["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [item for item in by_kind(objects, kind) if item["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]
