"""Chunks made by hand for the index tests, and emptying the PostgreSQL chunk tables."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from smarter.apps.knowledge.index.pgvector_engine import TABLE_PREFIX
from smarter.apps.knowledge.records import ChunkDraft, IndexedChunk


def drop_chunk_tables(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        names = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE %s", (TABLE_PREFIX + "%",)
        ).fetchall()
        for (name,) in names:
            connection.execute(f"DROP TABLE {name}")


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
