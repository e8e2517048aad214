"""Reading manifests for `apply`: files, directories and standard input, in dependency order.

The server takes one manifest per request, and a manifest may name another resource (an ApiKey
its User, a plugin its connection, a connection its Secret), so the documents are sent in the
order of `KIND_ORDER` whatever order the files hold them in. Everything is parsed before the
first request: a file that is not YAML stops the run before anything changes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from smarter_cli.errors import UsageFailure

# Prerequisites first. Kinds of one group keep the order in which they were read.
KIND_ORDER: tuple[tuple[str, ...], ...] = (
    ("account",),
    ("user",),
    ("secret",),
    ("apikey", "smarterauthtoken", "authtoken"),
    ("provider",),
    ("sqlconnection",),
    ("apiconnection",),
    # A knowledge base may embed through a Provider; a KnowledgePlugin names its knowledge base.
    ("knowledgebase",),
    ("plugin", "sqlplugin", "apiplugin", "knowledgeplugin"),
    ("chatbot",),
    # Both name a chatbot.
    ("testsuite", "channel"),
)
_RANK = {kind: rank for rank, group in enumerate(KIND_ORDER) for kind in group}
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Document:
    """One manifest and where it came from, for the result line and error messages."""

    source: str
    position: int  # 1-based index of the document inside its source
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        kind = self.body.get("kind")
        return kind if isinstance(kind, str) and kind else "?"

    @property
    def name(self) -> str:
        metadata = self.body.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        return str(name) if name not in (None, "") else "?"

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def rank(self) -> int:
        return _RANK.get(self.kind.lower(), len(KIND_ORDER))

    def to_yaml(self) -> bytes:
        return dump_yaml(self.body).encode("utf-8")


class _PlainDumper(yaml.SafeDumper):
    """Never writes anchors: the server refuses YAML aliases (they are the billion-laughs bomb)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


def expand_sources(sources: list[str], *, recursive: bool) -> list[str]:
    """Files named, and the manifest files of each directory named, sorted for a stable order."""
    files: list[str] = []
    for source in sources:
        if source == "-":
            files.append(source)
            continue
        path = Path(source)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found = sorted(
                str(candidate)
                for candidate in path.glob(pattern)
                if candidate.is_file() and candidate.suffix.lower() in MANIFEST_SUFFIXES
            )
            if not found:
                raise UsageFailure(f"{source} holds no .yaml, .yml or .json file.")
            files.extend(found)
        elif path.is_file():
            files.append(str(path))
        else:
            raise UsageFailure(f"{source}: no such file or directory.")
    return files


def read_source(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageFailure(f"{source} is not UTF-8 text.") from None
    except OSError as error:
        raise UsageFailure(f"Cannot read {source}: {error.strerror}.") from None


def parse_documents(source: str, text: str) -> list[Document]:
    label = "standard input" if source == "-" else source
    try:
        loaded = [item for item in yaml.safe_load_all(text) if item is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise UsageFailure(f"{label}: {problem}{where}.") from None
    documents = []
    for position, item in enumerate(loaded, start=1):
        if not isinstance(item, dict):
            raise UsageFailure(
                f"{label}: document {position} is not a manifest (a mapping with apiVersion, kind, metadata and spec)."
            )
        documents.append(Document(label, position, item))
    return documents


def load_documents(sources: list[str], *, recursive: bool = False) -> list[Document]:
    documents: list[Document] = []
    for source in expand_sources(sources, recursive=recursive):
        documents.extend(parse_documents(source, read_source(source)))
    if not documents:
        raise UsageFailure("Nothing to apply: the input holds no manifest.")
    return documents


def in_dependency_order(documents: list[Document]) -> list[Document]:
    # sorted() is stable: documents of one rank stay in the order they were read.
    return sorted(documents, key=lambda document: document.rank)
