"""What only the PostgreSQL engine does: a large knowledge base is searched through HNSW and
still gives k rows, a scan that gives up is answered exactly, and words in most chunks are left
out of a lexical query once the table's statistics know them."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import psycopg
import pytest

from smarter.apps.knowledge.index import pgvector_engine
from smarter.apps.knowledge.index.pgvector_engine import PgvectorKnowledgeIndex
from smarter.apps.knowledge.tests.index_chunks import chunk, drop_chunk_tables
from smarter.testing.pgvector import pgvector_url

__all__ = ["pgvector_url"]

ACME, GLOBEX = 7, 8
MANUAL = 11
DIMENSIONS = 16


@pytest.fixture
def engine(pgvector_url: str) -> Iterator[PgvectorKnowledgeIndex]:
    drop_chunk_tables(pgvector_url)
    engine = PgvectorKnowledgeIndex(pgvector_url)
    try:
        yield engine
    finally:
        engine.close()


def _unit(rng: random.Random) -> list[float]:
    vector = [rng.gauss(0, 1) for _ in range(DIMENSIONS)]
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector]


def _fill(engine: PgvectorKnowledgeIndex, rng: random.Random, mine: int) -> dict[int, list[float]]:
    """40 knowledge bases of 60 chunks, of two accounts, and `mine` chunks in ACME's MANUAL."""
    batch = []
    for knowledge_base in range(100, 140):
        for position in range(60):
            batch.append(
                chunk(
                    account=ACME if knowledge_base % 2 else GLOBEX,
                    knowledge_base=knowledge_base,
                    document=knowledge_base,
                    position=position,
                    text=f"chunk {position}",
                    vector=_unit(rng),
                )
            )
    vectors = {position: _unit(rng) for position in range(mine)}
    batch += [
        chunk(account=ACME, knowledge_base=MANUAL, document=1, position=position, text="mine", vector=vector)
        for position, vector in vectors.items()
    ]
    engine.add(batch)
    return vectors


def _exact(vectors: dict[int, list[float]], query: list[float], k: int) -> list[int]:
    return sorted(vectors, key=lambda position: -sum(a * b for a, b in zip(vectors[position], query, strict=True)))[:k]


def test_a_knowledge_base_above_the_exact_size_is_searched_through_hnsw_and_gives_k_rows(
    engine: PgvectorKnowledgeIndex,
) -> None:
    rng = random.Random(5)
    mine = _fill(engine, rng, 1500)
    query = _unit(rng)

    hits = engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=query, k=20)

    assert len(hits) == 20
    assert {hit.document_id for hit in hits} == {1}
    assert len({hit.chunk for hit in hits} & set(_exact(mine, query, 20))) >= 19
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_an_hnsw_scan_that_gives_up_early_is_answered_by_the_exact_search(
    engine: PgvectorKnowledgeIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counted as large, and the scan gives up long before it met the 3 rows in 2,403 that are ours.
    monkeypatch.setattr(pgvector_engine, "EXACT_MAX_ROWS", 2)
    monkeypatch.setattr(pgvector_engine, "MAX_SCAN_TUPLES", 1)
    rng = random.Random(6)
    mine = _fill(engine, rng, 3)
    query = _unit(rng)

    hits = engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=query, k=3)

    assert [hit.chunk for hit in hits] == _exact(mine, query, 3)


def test_a_knowledge_base_that_shrank_since_it_was_counted_still_gives_its_rows(
    engine: PgvectorKnowledgeIndex, pgvector_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pgvector_engine, "EXACT_MAX_ROWS", 10)
    monkeypatch.setattr(pgvector_engine, "MAX_SCAN_TUPLES", 1)
    rng = random.Random(7)
    _fill(engine, rng, 30)
    query = _unit(rng)
    assert len(engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=query, k=5)) == 5
    # Another process (a worker) replaces the knowledge base with two chunks; this engine still
    # holds it as large.
    other = PgvectorKnowledgeIndex(pgvector_url)
    try:
        other.delete_knowledge_base(account_id=ACME, knowledge_base_id=MANUAL)
        other.add(
            [
                chunk(account=ACME, knowledge_base=MANUAL, document=2, position=position, text="new", vector=_unit(rng))
                for position in range(2)
            ]
        )
    finally:
        other.close()

    hits = engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=query, k=5)

    assert sorted((hit.document_id, hit.chunk) for hit in hits) == [(2, 0), (2, 1)]


def test_a_word_in_most_chunks_does_not_crowd_out_a_rare_one(
    engine: PgvectorKnowledgeIndex, pgvector_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pgvector_engine, "COMMON_MIN_CHUNKS", 5)
    engine.add(
        [
            chunk(account=ACME, knowledge_base=MANUAL, document=1, position=position, text=text, vector=[1.0, 0.0])
            for position, text in enumerate(["common words here"] * 8 + ["common words and a quagga", "a quagga alone"])
        ]
    )
    with psycopg.connect(pgvector_url, autocommit=True) as connection:
        connection.execute(f"ANALYZE {pgvector_engine.TABLE_PREFIX}2")

    hits = engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="common quagga", k=3)
    only_common = engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="common words", k=3)

    assert [hit.chunk for hit in hits] == [9, 8]
    assert len(only_common) == 3


def test_a_chunk_with_more_of_the_questions_words_ranks_first(engine: PgvectorKnowledgeIndex) -> None:
    engine.add(
        [
            chunk(account=ACME, knowledge_base=MANUAL, document=1, position=position, text=text, vector=[1.0, 0.0])
            for position, text in enumerate(
                ["Zebra zebra zebra zebra", "A lion", "The zebra and the lion", "Penguins swim"]
            )
        ]
    )

    best = engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="zebra lion", k=1)
    hits = engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="zebra lion", k=4)

    assert [hit.chunk for hit in best] == [2]
    assert [hit.chunk for hit in hits] == [2, 1, 0]
    assert hits[0].score > 1 > hits[1].score > hits[2].score > 0
