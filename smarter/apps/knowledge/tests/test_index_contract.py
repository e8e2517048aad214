"""The knowledge index contract, the same tests on both engines (SQLite + sqlite-vec + FTS5, and
PostgreSQL + pgvector): what is added is counted and found, deletes remove exactly what they
name, dense and lexical rankings come out in the order a reader expects, a user's query cannot
break or widen a lexical search, and a filtered query still returns k rows."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from smarter.apps.knowledge.index import KnowledgeIndex, query_terms, sqlite_engine
from smarter.apps.knowledge.index.base import MAX_QUERY_TERMS
from smarter.apps.knowledge.index.sqlite_engine import SqliteKnowledgeIndex
from smarter.apps.knowledge.tests.index_chunks import chunk

pytest_plugins = ["smarter.apps.knowledge.tests.index_engines"]

ACME, GLOBEX = 7, 8
MANUAL, FAQ = 11, 12

# Hand-made vectors: their cosine similarity with the query [1, 0, 0, 0] is their first value.
CORPUS = [
    (0, "The zebra grazes on the open savanna", [1.0, 0.0, 0.0, 0.0]),
    (1, "Lions hunt at night", [0.8, 0.6, 0.0, 0.0]),
    (2, "Penguins swim in cold water", [0.0, 1.0, 0.0, 0.0]),
    (3, "Zebra zebra zebra stripes", [0.6, 0.0, 0.8, 0.0]),
    (4, "Eagles nest on high cliffs", [-1.0, 0.0, 0.0, 0.0]),
]
QUERY = [1.0, 0.0, 0.0, 0.0]


def load_corpus(
    engine: KnowledgeIndex, *, account: int = ACME, knowledge_base: int = MANUAL, document: int = 1
) -> None:
    engine.add(
        [
            chunk(
                account=account,
                knowledge_base=knowledge_base,
                document=document,
                position=position,
                text=text,
                vector=vector,
                heading_path=("Animals", f"Part {position}"),
                page=position + 1,
            )
            for position, text, vector in CORPUS
        ]
    )


def test_added_chunks_are_counted_per_knowledge_base_and_document(index_engine: KnowledgeIndex) -> None:
    load_corpus(index_engine, document=1)
    load_corpus(index_engine, document=2)
    load_corpus(index_engine, knowledge_base=FAQ, document=3)

    assert index_engine.count(account_id=ACME, knowledge_base_id=MANUAL) == 10
    assert index_engine.count(account_id=ACME, knowledge_base_id=MANUAL, document_id=2) == 5
    assert index_engine.count(account_id=ACME, knowledge_base_id=FAQ) == 5
    assert index_engine.count(account_id=GLOBEX, knowledge_base_id=MANUAL) == 0


def test_adding_a_position_again_replaces_the_chunk(index_engine: KnowledgeIndex) -> None:
    load_corpus(index_engine)
    index_engine.add(
        [chunk(account=ACME, knowledge_base=MANUAL, document=1, position=0, text="Okapis hide", vector=[0, 0, 0, 1])]
    )

    assert index_engine.count(account_id=ACME, knowledge_base_id=MANUAL) == 5
    hits = index_engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="okapis", k=5)
    assert [(hit.chunk, hit.text) for hit in hits] == [(0, "Okapis hide")]
    assert index_engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="savanna", k=5) == []


def test_dense_ranks_by_cosine_similarity_and_keeps_what_the_chunk_carries(index_engine: KnowledgeIndex) -> None:
    load_corpus(index_engine)

    hits = index_engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=QUERY, k=3)

    assert [hit.chunk for hit in hits] == [0, 1, 3]
    assert [round(hit.score, 5) for hit in hits] == [1.0, 0.8, 0.6]
    assert hits[0].text == "The zebra grazes on the open savanna"
    assert hits[0].parent_text == "The zebra grazes on the open savanna"
    assert hits[0].heading_path == ("Animals", "Part 0")
    assert hits[0].page == 1
    assert hits[0].document_id == 1


def test_dense_returns_every_chunk_when_k_exceeds_them(index_engine: KnowledgeIndex) -> None:
    load_corpus(index_engine)

    hits = index_engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=QUERY, k=50)

    assert [hit.chunk for hit in hits] == [0, 1, 3, 2, 4]
    assert [round(hit.score, 5) for hit in hits] == [1.0, 0.8, 0.6, 0.0, -1.0]


def test_a_vector_of_a_size_never_indexed_finds_nothing(index_engine: KnowledgeIndex) -> None:
    load_corpus(index_engine)

    assert index_engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=[1.0, 0.0, 0.0], k=3) == []


def test_lexical_ranks_the_denser_match_first_and_higher_scores_are_better(index_engine: KnowledgeIndex) -> None:
    load_corpus(index_engine)

    hits = index_engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="zebra", k=5)

    assert [hit.chunk for hit in hits] == [3, 0]
    assert hits[0].score > hits[1].score > 0


def test_lexical_matches_any_word_of_the_question_and_its_stems(index_engine: KnowledgeIndex) -> None:
    load_corpus(index_engine)

    hits = index_engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="Where are penguins swimming?", k=5)

    assert [hit.chunk for hit in hits] == [2]


@pytest.mark.parametrize(
    "query",
    [
        '"zebra',
        'zebra"',
        "zebra OR",
        "NEAR(zebra lions)",
        "NEAR(zebra lions, 1)",
        "text:zebra",
        "text : zebra",
        "scope:a8k11 zebra",
        "{text scope}: zebra",
        "-zebra",
        "zebra NOT lions",
        "zebra AND lions",
        "zebra*",
        "^zebra",
        "(((zebra",
        "'; DROP TABLE chunks; --",
        "zebra & lions | !penguins",
        "zebra <-> lions",
        "zebra:*",
        "\\zebra\\",
        "zebra\x00lions",
        '"" OR *',
    ],
)
def test_a_lexical_query_cannot_fail_or_widen_the_search(index_engine: KnowledgeIndex, query: str) -> None:
    load_corpus(index_engine)
    load_corpus(index_engine, account=GLOBEX, knowledge_base=MANUAL, document=99)
    plain = " ".join(query_terms(query))

    hits = index_engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query=query, k=10)

    expected = index_engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query=plain, k=10)
    assert [(hit.document_id, hit.chunk) for hit in hits] == [(hit.document_id, hit.chunk) for hit in expected]
    assert {hit.document_id for hit in hits} <= {1}
    assert index_engine.count(account_id=ACME, knowledge_base_id=MANUAL) == 5


@pytest.mark.parametrize("query", ["", "   ", '""', "*", "()", "-", ":"])
def test_a_query_without_words_finds_nothing(index_engine: KnowledgeIndex, query: str) -> None:
    load_corpus(index_engine)

    assert index_engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query=query, k=5) == []


def test_query_terms_drop_stopwords_unless_the_query_has_nothing_else() -> None:
    assert query_terms("Where are the penguins of the south?") == ["penguins", "south"]
    assert query_terms("To be or not to be") == ["to", "be", "or", "not"]
    assert len(query_terms(" ".join(f"word{number}" for number in range(100)))) == MAX_QUERY_TERMS


@pytest.mark.parametrize(
    ("query", "plain"),
    [
        ("What does the zebra do?", "zebra"),
        ("how do the penguins swim in the water", "penguins swim water"),
        ("the lions and the eagles", "lions eagles"),
    ],
)
def test_stopwords_do_not_change_a_querys_hits(index_engine: KnowledgeIndex, query: str, plain: str) -> None:
    load_corpus(index_engine)

    hits = index_engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query=query, k=10)

    expected = index_engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query=plain, k=10)
    assert hits
    assert [(hit.document_id, hit.chunk) for hit in hits] == [(hit.document_id, hit.chunk) for hit in expected]


def test_a_query_of_stopwords_only_still_finds_in_the_embedded_index(tmp_path: Path) -> None:
    # PostgreSQL's `english` configuration leaves such words out of the stored lexemes, so there
    # only the dense half of a hybrid query can answer them.
    engine = SqliteKnowledgeIndex(tmp_path / "index.sqlite3")
    try:
        load_corpus(engine)

        hits = engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="on the", k=5)

        assert hits
        assert {hit.chunk for hit in hits} <= {0, 4}
    finally:
        engine.close()


def test_a_word_in_most_chunks_does_not_crowd_out_a_rare_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_engine, "COMMON_MIN_CHUNKS", 5)
    engine = SqliteKnowledgeIndex(tmp_path / "index.sqlite3")
    try:
        engine.add(
            [
                chunk(account=ACME, knowledge_base=MANUAL, document=1, position=position, text=text, vector=[1.0, 0.0])
                for position, text in enumerate(
                    ["common words here"] * 8 + ["common words and a quagga", "a quagga alone"]
                )
            ]
        )

        hits = engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="common quagga", k=3)
        only_common = engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="common words", k=3)

        assert [hit.chunk for hit in hits] == [9, 8]
        assert len(only_common) == 3
    finally:
        engine.close()


def test_deleting_a_document_removes_its_chunks_vectors_and_words_only(index_engine: KnowledgeIndex) -> None:
    load_corpus(index_engine, document=1)
    load_corpus(index_engine, document=2)

    removed = index_engine.delete_document(account_id=ACME, knowledge_base_id=MANUAL, document_id=1)

    assert removed == 5
    assert index_engine.count(account_id=ACME, knowledge_base_id=MANUAL, document_id=1) == 0
    assert index_engine.count(account_id=ACME, knowledge_base_id=MANUAL) == 5
    dense = index_engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=QUERY, k=10)
    lexical = index_engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="zebra", k=10)
    assert {hit.document_id for hit in dense} == {2}
    assert len(dense) == 5
    assert [(hit.document_id, hit.chunk) for hit in lexical] == [(2, 3), (2, 0)]


def test_deleting_names_the_account_too(index_engine: KnowledgeIndex) -> None:
    load_corpus(index_engine)

    assert index_engine.delete_document(account_id=GLOBEX, knowledge_base_id=MANUAL, document_id=1) == 0
    assert index_engine.delete_knowledge_base(account_id=GLOBEX, knowledge_base_id=MANUAL) == 0
    assert index_engine.count(account_id=ACME, knowledge_base_id=MANUAL) == 5


def test_deleting_a_knowledge_base_leaves_the_others(index_engine: KnowledgeIndex) -> None:
    load_corpus(index_engine, document=1)
    load_corpus(index_engine, knowledge_base=FAQ, document=2)

    assert index_engine.delete_knowledge_base(account_id=ACME, knowledge_base_id=MANUAL) == 5

    assert index_engine.count(account_id=ACME, knowledge_base_id=MANUAL) == 0
    assert index_engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=QUERY, k=5) == []
    assert index_engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="zebra", k=5) == []
    assert index_engine.count(account_id=ACME, knowledge_base_id=FAQ) == 5


def _unit(rng: random.Random, dimensions: int) -> list[float]:
    vector = [rng.gauss(0, 1) for _ in range(dimensions)]
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector]


def test_a_dense_query_returns_k_rows_of_its_knowledge_base_among_many_others(index_engine: KnowledgeIndex) -> None:
    """One small knowledge base in a table of many: a filtered approximate search must still
    give k rows, and (nearly) the true nearest ones."""
    rng = random.Random(5)
    dimensions = 16
    mine: dict[int, list[float]] = {}
    batch = []
    for knowledge_base in range(100, 140):
        for position in range(60):
            vector = _unit(rng, dimensions)
            batch.append(
                chunk(
                    account=ACME if knowledge_base % 2 else GLOBEX,
                    knowledge_base=knowledge_base,
                    document=knowledge_base,
                    position=position,
                    text=f"chunk {position}",
                    vector=vector,
                )
            )
    for position in range(30):
        mine[position] = _unit(rng, dimensions)
        batch.append(
            chunk(
                account=ACME, knowledge_base=MANUAL, document=1, position=position, text="mine", vector=mine[position]
            )
        )
    index_engine.add(batch)
    query = _unit(rng, dimensions)

    hits = index_engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=query, k=20)

    exact = sorted(mine, key=lambda position: -sum(a * b for a, b in zip(mine[position], query, strict=True)))[:20]
    assert len(hits) == 20
    assert {hit.document_id for hit in hits} == {1}
    assert len({hit.chunk for hit in hits} & set(exact)) >= 19
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
