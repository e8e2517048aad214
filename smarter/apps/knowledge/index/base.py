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
# A question rarely needs more words than this to find its chunks; each one more is one more
# posting list to read and rank.
MAX_QUERY_TERMS = 32
# English function words. They match nearly every chunk, so an OR of a question's words that
# keeps them reads and ranks nearly the whole knowledge base, while bm25 gives them almost no
# weight. PostgreSQL's `english` configuration drops the same kind of words by itself.
_STOPWORDS = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves
"""
STOPWORDS = frozenset(_STOPWORDS.split())


def query_terms(query: str) -> list[str]:
    """The distinct words of `query`, in order, lower-cased, without stopwords (unless every word
    is one: "to be or not to be" still searches), at most MAX_QUERY_TERMS."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        word = word.strip("_")
        if word:
            seen.setdefault(word, None)
    words = list(seen)
    content = [word for word in words if word not in STOPWORDS]
    return (content or words)[:MAX_QUERY_TERMS]
