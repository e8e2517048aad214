"""The knowledge kinds and `upload`/`search` against the live server: real parsing, chunking,
local embeddings and retrieval behind the endpoints of API.md "Knowledge bases"."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import MANIFESTS, LiveServer, RunCli

KNOWLEDGE_KINDS = MANIFESTS / "knowledge_kinds"
KNOWLEDGE_BASE = "product_manual"
MANUAL = """\
# Lumo lamp manual

## Charging

Charge the Lumo lamp overnight with the USB-C cable. A full charge lasts twelve hours.

## Resetting

To reset the lamp, hold the power button for ten seconds until the light blinks twice.
Resetting keeps your brightness settings.
"""
# tqdm's bar, as `Loading weights: 100%|██████████| 103/103 [00:00<00:00, 3386.08it/s]`.
SERVER_BAR = re.compile(r"\d+%\|")
FAQ = "Does the Lumo lamp float?\nNo: keep it out of the bath.\n"


@pytest.fixture
def knowledge_dir(smarter_settings: Any, tmp_path: Path) -> Path:
    """The server's folder of raw documents and its index, private to the test."""
    folder = tmp_path / "knowledge"
    folder.mkdir()
    smarter_settings.knowledge_dir = str(folder)
    return folder


@pytest.fixture
def applied(as_owner: RunCli, knowledge_dir: Path) -> RunCli:
    result = as_owner("apply", "-f", str(KNOWLEDGE_KINDS))
    assert result.code == 0, result.stderr
    return as_owner


@pytest.fixture
def documents(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "docs"
    folder.mkdir()
    written = {"manual.md": MANUAL, "faq.txt": FAQ, "empty.txt": "", "setup.exe": "MZ\x90\x00"}
    for name, text in written.items():
        (folder / name).write_text(text)
    return {name: folder / name for name in written}


def client_stderr(stderr: str) -> str:
    """Standard error without the server's own lines: the live server runs in this process, and the
    embedding model it loads on first use draws a progress bar (lines redrawn with carriage
    returns) on the same standard error. Each line is kept as a terminal would show it (what follows
    its last carriage return), and the bar's lines are left out. The client draws no bar when its
    standard error is not a terminal."""
    shown = []
    for line in stderr.split("\n"):
        if "\r" in line:
            line = line.rsplit("\r", 1)[1]
            if not line or SERVER_BAR.search(line):
                continue
        shown.append(line)
    return "\n".join(shown)


def table_rows(stdout: str) -> list[list[str]]:
    """The upload table's rows (heading and rule left out), each split into its columns."""
    return [line.split(None, 3) for line in stdout.splitlines()[2:]]


def described_status(run: RunCli) -> dict[str, Any]:
    result = run("describe", "knowledgebase", KNOWLEDGE_BASE, "-o", "json")
    assert result.code == 0, result.stderr
    status = json.loads(result.stdout)["status"]
    assert isinstance(status, dict)
    return status


def test_the_knowledge_kinds_apply_in_dependency_order_and_again_unchanged(
    as_owner: RunCli, knowledge_dir: Path
) -> None:
    first = as_owner("apply", "-f", str(KNOWLEDGE_KINDS))
    again = as_owner("apply", "-f", str(KNOWLEDGE_KINDS))

    assert (first.code, first.stderr) == (0, "")
    assert first.out_lines == ["KnowledgeBase/product_manual created", "KnowledgePlugin/manual_lookup created"]
    assert again.out_lines == ["KnowledgeBase/product_manual unchanged", "KnowledgePlugin/manual_lookup unchanged"]


def test_get_and_describe_show_the_knowledge_kinds(applied: RunCli) -> None:
    bases = applied("get", "knowledgebases", "-o", "json")
    plugins = applied("get", "KnowledgePlugins", "-o", "json")
    described = applied("describe", "knowledgebase", KNOWLEDGE_BASE)

    assert [item["name"] for item in json.loads(bases.stdout)] == [KNOWLEDGE_BASE]
    assert [item["name"] for item in json.loads(plugins.stdout)] == ["manual_lookup"]
    manifest = yaml.safe_load(described.stdout)
    applied_spec = yaml.safe_load((KNOWLEDGE_KINDS / "b_knowledge_base.yaml").read_text())["spec"]
    for part in ("embedding", "chunking", "retrieval"):
        assert manifest["spec"][part] | applied_spec[part] == manifest["spec"][part]
    assert manifest["status"] == {"documents": 0, "chunks": 0, "ready": 0, "failed": 0}


def test_upload_waits_until_the_documents_are_ready_and_search_finds_them(
    applied: RunCli, documents: dict[str, Path]
) -> None:
    result = applied("upload", KNOWLEDGE_BASE, str(documents["manual.md"]), str(documents["faq.txt"]))

    assert (result.code, client_stderr(result.stderr)) == (0, "")
    assert result.out_lines[0].split() == ["NAME", "STATUS", "CHUNKS", "ERROR"]
    rows = table_rows(result.stdout)
    assert [row[:2] for row in rows] == [["manual.md", "ready"], ["faq.txt", "ready"]]
    chunks = [int(row[2]) for row in rows]
    assert all(count >= 1 for count in chunks)
    assert described_status(applied) == {"documents": 2, "chunks": sum(chunks), "ready": 2, "failed": 0}

    found = applied("search", KNOWLEDGE_BASE, "How do I reset the lamp?", "--top-k", "2", "--json")

    assert found.code == 0, found.stderr
    results = json.loads(found.stdout)
    assert 1 <= len(results) <= 2
    assert results[0]["document"] == "manual.md"
    assert "hold the power button for ten seconds" in results[0]["text"]

    table = applied("search", KNOWLEDGE_BASE, "How do I reset the lamp?", COLUMNS="100")

    assert table.code == 0, table.stderr
    assert table.out_lines[0].split() == ["DOCUMENT", "CHUNK", "SCORE", "TEXT"]
    assert table.out_lines[2].startswith("manual.md ")
    assert all(len(line) <= 100 for line in table.out_lines)


def test_text_from_standard_input_becomes_a_ready_document(applied: RunCli) -> None:
    result = applied("upload", KNOWLEDGE_BASE, "--text", "notes.md", input="# Notes\n\nThe lamp is warm white.\n")

    assert (result.code, client_stderr(result.stderr)) == (0, "")
    assert [row[:2] for row in table_rows(result.stdout)] == [["notes.md", "ready"]]


def test_the_same_content_twice_is_one_document(applied: RunCli, documents: dict[str, Path]) -> None:
    applied("upload", KNOWLEDGE_BASE, str(documents["faq.txt"]))

    again = applied("upload", KNOWLEDGE_BASE, str(documents["faq.txt"]))

    assert (again.code, client_stderr(again.stderr)) == (0, "")
    assert described_status(applied)["documents"] == 1


def test_an_empty_file_fails_with_its_error_and_an_unknown_type_is_refused(
    applied: RunCli, documents: dict[str, Path]
) -> None:
    result = applied("upload", KNOWLEDGE_BASE, str(documents["empty.txt"]), str(documents["setup.exe"]))

    assert result.code == 1
    rows = table_rows(result.stdout)
    assert [row[:2] for row in rows] == [["empty.txt", "failed"], ["setup.exe", "refused"]]
    assert len(rows[0]) == 4 and rows[0][3], "a failed document says why"
    assert client_stderr(result.stderr) == "1 of 2 uploads refused.\n1 of 2 documents failed.\n"
    assert described_status(applied) == {"documents": 1, "chunks": 0, "ready": 0, "failed": 1}


def test_another_accounts_knowledge_base_is_not_found(
    applied: RunCli, run_cli: RunCli, server: LiveServer, documents: dict[str, Path]
) -> None:
    as_outsider = {"SMARTER_BASE_URL": server.url, "SMARTER_API_KEY": server.outsider.key}

    upload = run_cli("upload", KNOWLEDGE_BASE, str(documents["faq.txt"]), **as_outsider)
    search = run_cli("search", KNOWLEDGE_BASE, "reset", **as_outsider)

    assert (upload.code, upload.stdout) == (1, "")
    assert (search.code, search.stdout) == (1, "")
    assert upload.stderr == search.stderr == f"Error: KnowledgeBase {KNOWLEDGE_BASE!r} was not found in your account.\n"
    assert described_status(applied)["documents"] == 0


def test_delete_removes_the_knowledge_kinds(applied: RunCli) -> None:
    plugin = applied("delete", "knowledgeplugin", "manual_lookup")
    base = applied("delete", "knowledgebase", KNOWLEDGE_BASE)

    assert (plugin.code, plugin.stdout) == (0, "KnowledgePlugin/manual_lookup deleted\n")
    assert (base.code, base.stdout) == (0, "KnowledgeBase/product_manual deleted\n")
    assert applied("search", KNOWLEDGE_BASE, "reset").code == 1
    assert applied("get", "knowledgebases", "-o", "json").stdout.strip() == "[]"
