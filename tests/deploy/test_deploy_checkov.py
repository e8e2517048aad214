"""The security scanner (checkov, offline) on the Terraform, the rendered chart and the Dockerfile.

Every finding is fixed or skipped in place with a reason: `#checkov:skip=ID:reason` in Terraform,
a `checkov.io/skipN: ID=reason` annotation in the chart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .support import REPO, TERRAFORM, production_values, render_chart, run, tool

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


def checkov(target: Path, framework: str) -> list[dict[str, Any]]:
    """Run checkov on a folder; one report per framework it ran."""
    command = tool("checkov", CHECKOV)
    result = run(
        [command, "--directory", str(target), "--framework", framework, "--skip-download", "--output", "json"],
        timeout=900,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


def failures(reports: list[dict[str, Any]]) -> list[str]:
    return [
        f"{check['check_id']} {check['resource']} ({check.get('file_path')})"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]


def skips(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [check for report in reports for check in report.get("results", {}).get("skipped_checks", [])]


def test_checkov_passes_on_the_terraform() -> None:
    reports = checkov(TERRAFORM, "terraform")
    assert sum(report["summary"]["passed"] for report in reports) > 100
    assert failures(reports) == []
    for skipped in skips(reports):
        reason = skipped.get("check_result", {}).get("suppress_comment", "")
        assert len(reason) > 20, f"{skipped['check_id']} {skipped['resource']}: no reason"


def test_every_terraform_skip_names_a_check_and_a_reason() -> None:
    pattern = re.compile(r"#checkov:skip=(CKV2?_[A-Z]+_\d+):(.+)")
    for path in TERRAFORM.rglob("*.tf"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "checkov:skip" in line:
                match = pattern.search(line)
                assert match and len(match.group(2).strip()) > 20, f"{path}: {line.strip()}"


# Production with every monitoring part on: the metrics port, Service and NetworkPolicy too.
WITH_METRICS = {
    "metrics": {
        "enabled": True,
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "grafanaDashboards": {"enabled": True},
    }
}


@pytest.mark.parametrize("values_name", ["default", "production", "production-with-metrics"])
def test_checkov_passes_on_the_rendered_chart(values_name: str, tmp_path: Path) -> None:
    values = production_values() if values_name.startswith("production") else {}
    if values_name.endswith("with-metrics"):
        values.update(WITH_METRICS)
    objects = render_chart(values)
    (tmp_path / "chart.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False), encoding="utf-8")
    reports = checkov(tmp_path, "kubernetes")
    assert sum(report["summary"]["passed"] for report in reports) > 100
    assert failures(reports) == []
    for skipped in skips(reports):
        reason = skipped.get("check_result", {}).get("suppress_comment", "")
        assert len(reason) > 20 and reason != "No comment provided", skipped["check_id"]


def test_checkov_passes_on_the_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text((REPO / "Dockerfile").read_text(encoding="utf-8"), encoding="utf-8")
    reports = checkov(tmp_path, "dockerfile")
    assert sum(report["summary"]["passed"] for report in reports) > 5
    assert failures(reports) == []
