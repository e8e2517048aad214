"""The two index engines as one parametrised fixture, so every contract test runs on both:
the embedded SQLite file (in the test's own folder) and a real PostgreSQL with pgvector (one
server per test session, its chunk tables dropped before each test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smarter.apps.knowledge.index import KnowledgeIndex
from smarter.apps.knowledge.index.pgvector_engine import PgvectorKnowledgeIndex
from smarter.apps.knowledge.index.sqlite_engine import SqliteKnowledgeIndex
from smarter.apps.knowledge.tests.index_chunks import drop_chunk_tables
from smarter.testing.pgvector import pgvector_url

__all__ = ["index_engine", "pgvector_url"]


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
