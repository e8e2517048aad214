"""What the steps of ingestion and retrieval hand each other: plain values, no models, so the
parsers, the chunker, the embedders and the index engines know nothing of Django or of each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    """A stretch of a document's text as its parser found it: a page of a PDF, a section of a
    markdown or HTML document under its headings, the paragraphs of a docx under a heading."""

    text: str
    page: int | None = None  # 1-based, where the format has pages
    heading_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk as the chunker cuts it. `text` is what is embedded and matched; `parent_text` is
    what the model reads (the section around it with the parent-child strategy, else `text`)."""

    position: int  # 0-based order in the document: the chunk's number in citations
    text: str
    parent_text: str
    parent_position: int
    tokens: int
    heading_path: tuple[str, ...] = ()
    page: int | None = None


@dataclass(frozen=True)
class IndexedChunk:
    """A chunk on its way into the index: its owner and its vector."""

    account_id: int
    knowledge_base_id: int
    document_id: int
    draft: ChunkDraft
    vector: list[float] = field(repr=False)


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk: which document and chunk, how it ranked, and the text the model reads."""

    document_id: int
    chunk: int
    score: float
    text: str  # the chunk as matched
    parent_text: str = ""  # the section around it (parent-child), else the same as `text`
    heading_path: tuple[str, ...] = ()
    page: int | None = None


@dataclass(frozen=True)
class SearchResult:
    """A retrieved chunk as users, the chat turn and citations see it (API.md, "Knowledge bases")."""

    document: str  # the document's name
    document_id: int
    chunk: int
    score: float
    text: str  # what the model reads

    def as_dict(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "documentId": self.document_id,
            "chunk": self.chunk,
            "score": round(self.score, 6),
            "text": self.text,
        }

    def citation(self) -> dict[str, Any]:
        """What a chat turn's `citations` carries: the result without its text."""
        return {key: value for key, value in self.as_dict().items() if key != "text"}
