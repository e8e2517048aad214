"""Every YAML block of the docs and the READMEs parses, and every block that is a manifest
(`apiVersion` and `kind`) validates with its kind's broker, as `apply` would validate it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from smarter.lib.manifests.broker import broker_for

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", ROOT / "cli" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
YAML_BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.DOTALL | re.MULTILINE)


def yaml_blocks() -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for match in YAML_BLOCK.finditer(text):
            line = text[: match.start()].count("\n") + 1
            found.append((f"{document.relative_to(ROOT)}:{line}", match.group(1)))
    return found


BLOCKS = yaml_blocks()


def manifests() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for where, block in BLOCKS:
        try:
            documents = list(yaml.safe_load_all(block))
        except yaml.YAMLError:
            continue  # reported by the parsing test
        for index, document in enumerate(documents):
            if isinstance(document, dict) and "apiVersion" in document and "kind" in document:
                found.append((f"{where}#{index}", document))
    return found


MANIFESTS = manifests()


def test_the_docs_have_yaml_blocks_and_manifests() -> None:
    assert len(BLOCKS) >= 25
    assert len(MANIFESTS) >= 20


@pytest.mark.parametrize(("where", "block"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_every_yaml_block_parses(where: str, block: str) -> None:
    list(yaml.safe_load_all(block))


@pytest.mark.parametrize(("where", "manifest"), MANIFESTS, ids=[where for where, _ in MANIFESTS])
def test_every_documented_manifest_validates_with_its_kind(where: str, manifest: dict[str, Any]) -> None:
    broker_for(str(manifest["kind"])).validate(manifest)
