"""docs/knowledge.md runs as written: its manifests saved under the names their first lines give,
then every curl command, in order, against the platform served on loopback, with ingestion as
the embedded default runs it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.knowledge.models import Document

DOC = Path(__file__).resolve().parents[4] / "docs" / "knowledge.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_every_documented_command_runs_as_written(asgi_server: Any, owner: Persona, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("needs curl on PATH")
    saved = []
    for manifest in blocks("yaml"):
        named = re.match(r"# ([\w.-]+\.yaml)\n", manifest)
        if named:
            (tmp_path / named.group(1)).write_text(manifest, encoding="utf-8")
            saved.append(named.group(1))
    assert saved == ["product_manual.yaml", "manual_lookup.yaml"]
    outputs = []
    for command in blocks("bash"):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "SMARTER": asgi_server.url, "KEY": owner.key},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (command, result.stderr)
        outputs.append(json.loads(result.stdout))
    applied, described, uploaded, text, listed, found, plugin = outputs
    assert applied["data"]["applied"] == "created"
    assert (plugin["data"]["applied"], plugin["data"]["manifest"]["spec"]["knowledge"]["knowledgeBase"]) == (
        "created",
        "product_manual",
    )
    assert described["data"]["status"] == {"documents": 0, "chunks": 0, "ready": 0, "failed": 0}
    assert (uploaded["name"], uploaded["status"]) == ("gizmo.md", "queued")
    assert (text["name"], text["status"]) == ("warranty.md", "queued")
    assert sorted((item["name"], item["status"]) for item in listed["data"]["items"]) == [
        ("gizmo.md", "ready"),
        ("warranty.md", "ready"),
    ]
    assert found["data"]["results"][0]["document"] == "gizmo.md"
    assert "90 minutes" in found["data"]["results"][0]["text"]
    assert Document.objects.count() == 2
