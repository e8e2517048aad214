"""Two tenants' knowledge bases in one index: a thousand random queries of one tenant, dense and
lexical, on its own knowledge bases and on ids of the other's, never return a chunk of the other."""

from __future__ import annotations

import math
import random

from smarter.apps.knowledge.index import KnowledgeIndex
from smarter.apps.knowledge.tests.index_chunks import chunk

pytest_plugins = ["smarter.apps.knowledge.tests.index_engines"]

WORDS = ["invoice", "refund", "warranty", "shipping", "gobstopper", "delivery", "payroll", "ticket", "booking"]
DIMENSIONS = 8
# Each tenant's knowledge base and document ids; documents tell whose a hit is.
TENANTS = {
    1: {"knowledge_bases": (10, 11), "documents": range(100, 110)},
    2: {"knowledge_bases": (20, 21), "documents": range(200, 210)},
}
QUERIES = 1000


def _unit(rng: random.Random) -> list[float]:
    vector = [rng.gauss(0, 1) for _ in range(DIMENSIONS)]
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector]


def _fill(engine: KnowledgeIndex, rng: random.Random) -> None:
    batch = []
    for account, tenant in TENANTS.items():
        for index, document in enumerate(tenant["documents"]):
            knowledge_base = tenant["knowledge_bases"][index % 2]
            for position in range(8):
                text = " ".join(rng.choice(WORDS) for _ in range(6))
                batch.append(
                    chunk(
                        account=account,
                        knowledge_base=knowledge_base,
                        document=document,
                        position=position,
                        text=text,
                        vector=_unit(rng),
                    )
                )
    engine.add(batch)


def test_a_thousand_random_queries_never_return_another_tenants_chunk(index_engine: KnowledgeIndex) -> None:
    rng = random.Random(2026)
    _fill(index_engine, rng)
    leaked = 0
    returned = 0
    for _ in range(QUERIES):
        account = rng.choice((1, 2))
        other = 2 if account == 1 else 1
        # Mostly its own knowledge bases; sometimes the other tenant's ids, as a forged request would.
        knowledge_base = rng.choice(TENANTS[account]["knowledge_bases"] + TENANTS[other]["knowledge_bases"][:1])
        k = rng.randint(1, 30)
        if rng.random() < 0.5:
            hits = index_engine.dense(account_id=account, knowledge_base_id=knowledge_base, vector=_unit(rng), k=k)
        else:
            query = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
            hits = index_engine.lexical(account_id=account, knowledge_base_id=knowledge_base, query=query, k=k)
        returned += len(hits)
        leaked += sum(1 for hit in hits if hit.document_id not in TENANTS[account]["documents"])
        if knowledge_base in TENANTS[other]["knowledge_bases"]:
            assert hits == []

    assert leaked == 0
    assert returned > QUERIES  # the queries did find chunks: the zero above means something


def test_counts_and_deletes_of_one_tenant_never_touch_the_other(index_engine: KnowledgeIndex) -> None:
    rng = random.Random(7)
    _fill(index_engine, rng)

    assert index_engine.count(account_id=1, knowledge_base_id=20) == 0
    assert index_engine.delete_knowledge_base(account_id=1, knowledge_base_id=20) == 0
    assert index_engine.delete_document(account_id=1, knowledge_base_id=20, document_id=200) == 0

    assert index_engine.count(account_id=2, knowledge_base_id=20) == 40
    assert index_engine.count(account_id=2, knowledge_base_id=20, document_id=200) == 8
