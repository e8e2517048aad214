"""The production index as docs/deploy.md sets it up on RDS: the master user (rds_superuser
there, a superuser here) creates the vector extension once in the knowledge database and lets
the platform's own user create tables in its schema; the platform's user, with nothing more,
starts the engine (whose `CREATE EXTENSION IF NOT EXISTS vector` is then a no-op), writes chunks
and searches them. Without the extension made first it cannot start: pgvector is not a trusted
extension, so only a superuser (rds_superuser on RDS) may create it."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from smarter.apps.knowledge.index.pgvector_engine import PgvectorKnowledgeIndex
from smarter.apps.knowledge.tests.index_chunks import chunk
from smarter.testing.pgvector import pgvector_url

__all__ = ["pgvector_url"]

DATABASE = "knowledge_grants"
APPLICATION_USER = "smarter_kb"


def _url(url: str, **changes: str) -> str:
    return make_conninfo(**{**conninfo_to_dict(url), **changes})


@pytest.fixture
def knowledge_database(pgvector_url: str) -> Iterator[str]:
    """An empty knowledge database and the platform's user, owning nothing, with no grant yet."""
    with psycopg.connect(pgvector_url, autocommit=True) as master:
        master.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        master.execute(f"DROP ROLE IF EXISTS {APPLICATION_USER}")
        master.execute(f"CREATE ROLE {APPLICATION_USER} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
        master.execute(f"CREATE DATABASE {DATABASE}")
    try:
        yield _url(pgvector_url, dbname=DATABASE)
    finally:
        with psycopg.connect(pgvector_url, autocommit=True) as master:
            master.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            master.execute(f"DROP ROLE IF EXISTS {APPLICATION_USER}")


def _the_guides_grants(master_url: str) -> None:
    """What docs/deploy.md (step 7) has the master user run in the knowledge database."""
    with psycopg.connect(master_url, autocommit=True) as master:
        master.execute("CREATE EXTENSION IF NOT EXISTS vector")
        master.execute(f"GRANT CREATE, USAGE ON SCHEMA public TO {APPLICATION_USER}")


def test_the_platforms_user_indexes_and_searches_with_only_the_guides_grants(knowledge_database: str) -> None:
    _the_guides_grants(knowledge_database)
    engine = PgvectorKnowledgeIndex(_url(knowledge_database, user=APPLICATION_USER))
    try:
        engine.add([chunk(account=1, knowledge_base=2, document=3, position=0, text="warranty", vector=[1, 0, 0])])
        assert engine.count(account_id=1, knowledge_base_id=2) == 1
        hits = engine.dense(account_id=1, knowledge_base_id=2, vector=[1, 0, 0], k=1)
        assert [(hit.document_id, hit.chunk, hit.text) for hit in hits] == [(3, 0, "warranty")]
    finally:
        engine.close()


def test_without_the_extension_made_by_the_master_user_the_platforms_user_cannot_start(
    knowledge_database: str,
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match='permission denied to create extension "vector"'):
        PgvectorKnowledgeIndex(_url(knowledge_database, user=APPLICATION_USER))
