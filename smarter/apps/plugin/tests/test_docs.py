"""Every manifest in docs/plugins.md applies as written, in order, to a fresh account."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parents[4] / "docs" / "plugins.md"


def documents() -> list[str]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [part for block in blocks for part in block.split("\n---\n")]


def test_the_documented_manifests_apply_as_written(owner: Any, sqlite_dir: Any) -> None:
    texts = documents()
    assert len(texts) == 7
    kinds = []
    for text in texts:
        response = owner.client.post("/api/v1/cli/apply/", data=text.encode(), content_type="application/yaml")
        assert response.status_code == 200, (text[:80], response.json())
        kinds.append(yaml.safe_load(text)["kind"])
    assert kinds == ["Plugin", "SqlConnection", "Secret", "SqlConnection", "SqlPlugin", "ApiConnection", "ApiPlugin"]
    body = owner.client.post(
        "/api/v1/plugins/gobstopper_promotions/test/", {"arguments": {"inquiry_type": "couponCodes"}}, format="json"
    ).json()
    assert body["result"] == [{"name": "10% off", "code": "10OFF"}]
