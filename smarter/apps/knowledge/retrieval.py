"""Retrieval: a question to the chunks of one knowledge base that best answer it.

- `dense`: the question's embedding against the chunks' (cosine similarity);
- `lexical`: the question's words against the chunks' full text (bm25 or ts_rank_cd);
- `hybrid`: both, fused by reciprocal rank (RRF): each chunk scores the sum of 1 / (60 + rank)
  over the lists it appears in. Ranks, not raw scores, are fused because a cosine similarity
  and a bm25 score live on unrelated scales; a weighted sum of them would let whichever scale
  is larger decide. Each list holds max(4 * top_k, 20) candidates, so a chunk ranked modestly
  by both methods can still rise to the top. The lexical list is read on a second thread while
  this one embeds the question and reads the dense list: both engines wait on their database
  (or torch) without holding the interpreter, so a hybrid query costs about its slower half.

With `parent_child`, the small chunks matched are children of larger sections: hits of the same
section collapse into one (its best-ranked child keeps its place and number), and the text the
model reads (`Hit.parent_text`) is the section's. `Hit.text` is always the chunk as matched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace

from django.conf import settings

from smarter.apps.knowledge.embedding import embedder_for
from smarter.apps.knowledge.index import KnowledgeIndex, knowledge_index
from smarter.apps.knowledge.records import Hit
from smarter.lib import metrics

MODES = ("hybrid", "dense", "lexical")
RRF_K = 60
MIN_CANDIDATES = 20
# Threads reading lexical lists beside dense ones (each holds its own index connection).
_lexical_readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="knowledge-lexical")


class RetrievalError(ValueError):
    """The retrieval request cannot be served as asked (an unknown mode, a top_k below 1)."""


def candidate_count(top_k: int) -> int:
    return max(4 * top_k, MIN_CANDIDATES)


def reciprocal_rank_fusion(*ranked_lists: Sequence[Hit], k: int = RRF_K) -> list[Hit]:
    """One list from several rankings of the same chunks: each chunk scores the sum of
    1 / (k + rank) (rank from 1) over the lists that hold it; ties keep the first list's order."""
    scores: dict[tuple[int, int], float] = {}
    first_seen: dict[tuple[int, int], Hit] = {}
    for hits in ranked_lists:
        for rank, hit in enumerate(hits, start=1):
            key = (hit.document_id, hit.chunk)
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
            first_seen.setdefault(key, hit)
    order = sorted(scores, key=lambda key: -scores[key])  # stable: first appearance breaks ties
    return [replace(first_seen[key], score=scores[key]) for key in order]


def collapse_parents(hits: Sequence[Hit]) -> list[Hit]:
    """Keep the best-ranked hit of each parent section; its later siblings are dropped. A section
    is known by its document and its text: the index keeps the parent's text with each child."""
    seen: set[tuple[int, str]] = set()
    kept: list[Hit] = []
    for hit in hits:
        key = (hit.document_id, hit.parent_text or hit.text)
        if key not in seen:
            seen.add(key)
            kept.append(hit)
    return kept


def retrieve(
    *,
    account_id: int,
    knowledge_base_id: int,
    embedding: dict[str, object],
    query: str,
    mode: str,
    top_k: int,
    parent_child: bool,
) -> list[Hit]:
    """The `top_k` best chunks of the knowledge base for `query`, best first (see the module)."""
    if mode not in MODES:
        raise RetrievalError(f"mode must be one of {', '.join(MODES)}, not {mode}")
    if top_k < 1:
        raise RetrievalError("top_k must be at least 1")
    if not query.strip():
        return []
    # Parent-child collapses siblings, so it asks for more than top_k to still return top_k.
    wanted = candidate_count(top_k) if (mode == "hybrid" or parent_child) else top_k

    def query_vector() -> Sequence[float]:
        return embedder_for(account_id=account_id, embedding=dict(embedding)).embed_query(query)

    # The query's embedding included: it is most of a search's time on the local model.
    with metrics.retrieval_timed("pgvector" if settings.SMARTER.knowledge_index_url else "sqlite"):
        hits = search_index(
            knowledge_index(),
            account_id=account_id,
            knowledge_base_id=knowledge_base_id,
            query=query,
            query_vector=query_vector,
            mode=mode,
            wanted=wanted,
        )
    if parent_child:
        hits = collapse_parents(hits)
    return hits[:top_k]


def search_index(
    index: KnowledgeIndex,
    *,
    account_id: int,
    knowledge_base_id: int,
    query: str,
    query_vector: Callable[[], Sequence[float]],
    mode: str,
    wanted: int,
) -> list[Hit]:
    """The index's `wanted` best chunks for `query` in `mode`, best first; in hybrid mode the
    lexical list is read on another thread while `query_vector()` and the dense list run here."""
    if mode == "lexical":
        return index.lexical(account_id=account_id, knowledge_base_id=knowledge_base_id, query=query, k=wanted)
    lexical = None
    if mode == "hybrid":
        lexical = _lexical_readers.submit(
            index.lexical, account_id=account_id, knowledge_base_id=knowledge_base_id, query=query, k=wanted
        )
    try:
        dense = index.dense(account_id=account_id, knowledge_base_id=knowledge_base_id, vector=query_vector(), k=wanted)
    finally:
        if lexical is not None:
            wait([lexical])  # no read outlives its query, whatever happened here
    if lexical is None:
        return dense
    return reciprocal_rank_fusion(dense, lexical.result())
