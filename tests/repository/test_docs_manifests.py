"""Every YAML block of the docs and the READMEs parses, and every block that is a manifest
(`apiVersion` and `kind`) validates with its kind's broker, as `apply` would validate it; a block
that says it is invalid on purpose (to show an error) is refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from smarter.lib.errors import ValidationFailed
from smarter.lib.manifests.broker import broker_for

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", ROOT / "cli" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
YAML_BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.DOTALL | re.MULTILINE)
INVALID_ON_PURPOSE = "invalid on purpose"


def yaml_blocks() -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for match in YAML_BLOCK.finditer(text):
            line = text[: match.start()].count("\n") + 1
            found.append((f"{document.relative_to(ROOT)}:{line}", match.group(1)))
    return found


BLOCKS = yaml_blocks()


def manifests(*, invalid_on_purpose: bool = False) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for where, block in BLOCKS:
        if (INVALID_ON_PURPOSE in block.partition("\n")[0]) != invalid_on_purpose:
            continue
        try:
            documents = list(yaml.safe_load_all(block))
        except yaml.YAMLError:
            continue  # reported by the parsing test
        for index, document in enumerate(documents):
            if isinstance(document, dict) and "apiVersion" in document and "kind" in document:
                found.append((f"{where}#{index}", document))
    return found


MANIFESTS = manifests()
MISTAKES = manifests(invalid_on_purpose=True)


def test_the_docs_have_yaml_blocks_and_manifests() -> None:
    assert len(BLOCKS) >= 25
    assert len(MANIFESTS) >= 20


@pytest.mark.parametrize(("where", "block"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_every_yaml_block_parses(where: str, block: str) -> None:
    list(yaml.safe_load_all(block))


@pytest.mark.parametrize(("where", "manifest"), MANIFESTS, ids=[where for where, _ in MANIFESTS])
def test_every_documented_manifest_validates_with_its_kind(where: str, manifest: dict[str, Any]) -> None:
    broker_for(str(manifest["kind"])).validate(manifest)


@pytest.mark.parametrize(("where", "manifest"), MISTAKES, ids=[where for where, _ in MISTAKES])
def test_a_manifest_the_docs_show_as_a_mistake_is_refused(where: str, manifest: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        broker_for(str(manifest["kind"])).validate(manifest)


def test_the_docs_show_a_mistake() -> None:
    assert [where.partition(":")[0] for where, _ in MISTAKES] == ["docs/cli.md"]
