"""Retrieval on both engines: dense, lexical and hybrid (reciprocal-rank fusion) over a crafted
corpus whose query vector comes from a real embeddings endpoint (the stub, as the account's
Provider), and parent-child collapsing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.services import provider_create
from smarter.apps.knowledge.index import close_knowledge_indexes, knowledge_index
from smarter.apps.knowledge.records import Hit
from smarter.apps.knowledge.retrieval import RetrievalError, candidate_count, reciprocal_rank_fusion, retrieve
from smarter.apps.knowledge.tests.index_chunks import chunk, drop_chunk_tables
from smarter.testing.openai_stub import OpenAIStub

pytest_plugins = ["smarter.apps.knowledge.tests.index_engines"]

KB = 31
QUERY = "zebra stripes"
EMBEDDING = {"provider": "house-llm", "model": "stub-embedding"}
# Cosine similarities with the query vector [1, 0, 0, 0] are the first values.
CORPUS = [
    (0, "The zebra grazes", [1.0, 0.0, 0.0, 0.0]),
    (1, "Lions hunt at night", [0.9, 0.4358899, 0.0, 0.0]),
    (2, "Zebra stripes, zebra stripes", [0.5, 0.0, 0.8660254, 0.0]),
    (3, "Penguins swim", [0.0, 1.0, 0.0, 0.0]),
    (4, "Eagles nest", [-1.0, 0.0, 0.0, 0.0]),
]


@pytest.fixture(params=["sqlite", "pgvector"])
def engine_settings(request: Any, smarter_settings: Any, tmp_path: Any) -> Iterator[Any]:
    """The settings naming each engine in turn, and the engine cache closed afterwards."""
    smarter_settings.allow_private_hosts = True
    smarter_settings.knowledge_dir = tmp_path
    if request.param == "pgvector":
        url = request.getfixturevalue("pgvector_url")
        drop_chunk_tables(url)
        smarter_settings.knowledge_index_url = url
    close_knowledge_indexes()
    yield smarter_settings
    close_knowledge_indexes()


@pytest.fixture
def corpus(owner: Persona, openai_stub: OpenAIStub, engine_settings: Any) -> int:
    """The crafted corpus in the owner's knowledge base; the stub embeds the query."""
    provider_create(account=owner.account, name="house-llm", base_url=openai_stub.url, default_model="x")
    openai_stub.set_embedding(QUERY, [1.0, 0.0, 0.0, 0.0])
    account = owner.account.pk
    knowledge_index().add(
        [
            chunk(account=account, knowledge_base=KB, document=1, position=position, text=text, vector=vector)
            for position, text, vector in CORPUS
        ]
    )
    return int(account)


def ranked(hits: list[Hit]) -> list[tuple[int, int]]:
    return [(hit.document_id, hit.chunk) for hit in hits]


def search(account: int, mode: str, top_k: int = 5, parent_child: bool = False, query: str = QUERY) -> list[Hit]:
    return retrieve(
        account_id=account,
        knowledge_base_id=KB,
        embedding=EMBEDDING,
        query=query,
        mode=mode,
        top_k=top_k,
        parent_child=parent_child,
    )


def test_dense_ranks_by_the_query_embedding(corpus: int) -> None:
    hits = search(corpus, "dense", top_k=3)

    assert ranked(hits) == [(1, 0), (1, 1), (1, 2)]
    assert [round(hit.score, 4) for hit in hits] == [1.0, 0.9, 0.5]


def test_lexical_ranks_by_the_words(corpus: int, openai_stub: OpenAIStub) -> None:
    hits = search(corpus, "lexical")

    assert ranked(hits) == [(1, 2), (1, 0)]
    assert openai_stub.embedding_requests == []  # no embedding is needed for words


def test_hybrid_fuses_the_ranks_not_the_scores(corpus: int) -> None:
    hits = search(corpus, "hybrid")

    # dense ranks 0,1,2,3,4 and lexical ranks 2,0: RRF with k=60.
    assert ranked(hits) == [(1, 0), (1, 2), (1, 1), (1, 3), (1, 4)]
    assert [hit.score for hit in hits] == pytest.approx([1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62, 1 / 64, 1 / 65])


def test_top_k_cuts_the_fused_list(corpus: int) -> None:
    assert ranked(search(corpus, "hybrid", top_k=2)) == [(1, 0), (1, 2)]


def test_parent_child_collapses_siblings_and_gives_the_parent_text(corpus: int) -> None:
    section = "Zebras. Zebra stripes confuse flies. Zebra herds migrate."
    knowledge_index().add(
        [
            chunk(
                account=corpus,
                knowledge_base=KB,
                document=2,
                position=position,
                text=text,
                vector=[0.95, 0.0, 0.0, 0.3122499],
                parent_text=section,
                parent_position=0,
            )
            for position, text in ((0, "Zebra stripes confuse flies."), (1, "Zebra herds migrate."))
        ]
    )

    without = search(corpus, "hybrid", top_k=10)
    collapsed = search(corpus, "hybrid", top_k=10, parent_child=True)

    assert {(2, 0), (2, 1)} <= set(ranked(without))
    assert [hit for hit in ranked(collapsed) if hit[0] == 2] == [(2, 0)]
    assert len(collapsed) == len(without) - 1
    from_section = next(hit for hit in collapsed if hit.document_id == 2)
    assert from_section.text == "Zebra stripes confuse flies."
    assert from_section.parent_text == section


def test_another_account_retrieves_nothing_from_the_knowledge_base(corpus: int, outsider: Persona) -> None:
    provider_create(account=outsider.account, name="house-llm", base_url="http://127.0.0.1:9/v1", default_model="x")

    assert search(outsider.account.pk, "lexical") == []


def test_an_empty_question_retrieves_nothing(corpus: int) -> None:
    assert search(corpus, "hybrid", query="   ") == []


def test_an_unknown_mode_or_a_top_k_below_one_is_refused(corpus: int) -> None:
    with pytest.raises(RetrievalError, match=r"^mode must be one of hybrid, dense, lexical, not fuzzy$"):
        search(corpus, "fuzzy")
    with pytest.raises(RetrievalError, match=r"^top_k must be at least 1$"):
        search(corpus, "dense", top_k=0)


def test_fusion_candidates_are_four_times_top_k_and_at_least_twenty() -> None:
    assert [candidate_count(top_k) for top_k in (1, 5, 6, 25)] == [20, 20, 24, 100]


def test_fusion_sums_reciprocal_ranks_and_keeps_first_appearance_on_ties() -> None:
    def hit(chunk_number: int, score: float) -> Hit:
        return Hit(document_id=1, chunk=chunk_number, score=score, text=str(chunk_number))

    fused = reciprocal_rank_fusion([hit(1, 0.9), hit(2, 0.8)], [hit(2, 40.0), hit(1, 3.0), hit(3, 1.0)])

    assert [(h.chunk, h.score) for h in fused] == [(1, 1 / 61 + 1 / 62), (2, 1 / 62 + 1 / 61), (3, 1 / 63)]
