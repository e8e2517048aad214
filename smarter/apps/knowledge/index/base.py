"""The one small interface both index engines implement, and what they share.

Every read and every delete names the account and the knowledge base, and every engine filters
by both: a chunk of another tenant is unreachable even if a caller passes a wrong knowledge base
id. Scores: `dense` gives the cosine similarity of the query and the chunk (higher is closer);
`lexical` gives the engine's relevance rank turned so that higher is better.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from smarter.apps.knowledge.records import Hit, IndexedChunk


class KnowledgeIndex(Protocol):
    def add(self, chunks: Sequence[IndexedChunk]) -> None:
        """Index these chunks in one transaction. A chunk at a position its document already
        has replaces it, so re-running an ingestion does not duplicate chunks."""

    def delete_document(self, *, account_id: int, knowledge_base_id: int, document_id: int) -> int:
        """Remove a document's chunks, vectors and lexical entries; how many chunks went."""

    def delete_knowledge_base(self, *, account_id: int, knowledge_base_id: int) -> int: ...

    def count(self, *, account_id: int, knowledge_base_id: int, document_id: int | None = None) -> int: ...

    def dense(self, *, account_id: int, knowledge_base_id: int, vector: Sequence[float], k: int) -> list[Hit]: ...

    def lexical(self, *, account_id: int, knowledge_base_id: int, query: str, k: int) -> list[Hit]: ...

    def close(self) -> None: ...


# A user's words, as the lexical engines may see them: letters and digits only. Quotes,
# operators (AND, OR, NOT, NEAR, -, *, ^), parentheses and column filters (`text:`) are dropped
# before a query reaches FTS5 or websearch_to_tsquery, so no query can fail or widen a search.
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 64


def query_terms(query: str) -> list[str]:
    """The distinct words of `query`, in order, lower-cased, at most MAX_QUERY_TERMS."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        word = word.strip("_")
        if word:
            seen.setdefault(word, None)
    return list(seen)[:MAX_QUERY_TERMS]
