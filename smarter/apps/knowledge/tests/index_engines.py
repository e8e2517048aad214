"""The two index engines as one parametrised fixture, so every contract test runs on both:
the embedded SQLite file (in the test's own folder) and a real PostgreSQL with pgvector (one
server per test session, its chunk tables dropped before each test)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from smarter.apps.knowledge.index import KnowledgeIndex
from smarter.apps.knowledge.index.pgvector_engine import TABLE_PREFIX, PgvectorKnowledgeIndex
from smarter.apps.knowledge.index.sqlite_engine import SqliteKnowledgeIndex
from smarter.apps.knowledge.records import ChunkDraft, IndexedChunk
from smarter.testing.pgvector import pgvector_url

__all__ = ["chunk", "drop_chunk_tables", "index_engine", "pgvector_url"]


def drop_chunk_tables(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        names = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE %s", (TABLE_PREFIX + "%",)
        ).fetchall()
        for (name,) in names:
            connection.execute(f"DROP TABLE {name}")


@pytest.fixture(params=["sqlite", "pgvector"])
def index_engine(request: Any, tmp_path: Path) -> Iterator[KnowledgeIndex]:
    """Each engine, empty."""
    engine: KnowledgeIndex
    if request.param == "sqlite":
        engine = SqliteKnowledgeIndex(tmp_path / "index.sqlite3")
    else:
        url = request.getfixturevalue("pgvector_url")
        drop_chunk_tables(url)
        engine = PgvectorKnowledgeIndex(url)
    try:
        yield engine
    finally:
        engine.close()


def chunk(
    *,
    account: int,
    knowledge_base: int,
    document: int,
    position: int,
    text: str,
    vector: Sequence[float],
    parent_text: str = "",
    parent_position: int | None = None,
    heading_path: tuple[str, ...] = (),
    page: int | None = None,
) -> IndexedChunk:
    draft = ChunkDraft(
        position=position,
        text=text,
        parent_text=parent_text or text,
        parent_position=position if parent_position is None else parent_position,
        tokens=len(text.split()),
        heading_path=heading_path,
        page=page,
    )
    return IndexedChunk(account, knowledge_base, document, draft, list(vector))
