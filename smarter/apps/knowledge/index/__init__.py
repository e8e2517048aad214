"""The knowledge index: chunks, their vectors and their lexical index, behind one interface.

`knowledge_index()` gives the engine `settings.SMARTER.knowledge_index_url` names (a
`postgresql://` URL: PostgreSQL with pgvector), or, when it is unset, the embedded SQLite file
`<knowledge dir>/index.sqlite3`. One engine is kept per URL or path, so a process opens its
connections once; `close_knowledge_indexes()` closes them all (tests, a worker shutting down).
"""

from __future__ import annotations

import threading

from django.conf import settings

from smarter.apps.knowledge.index.base import KnowledgeIndex, query_terms

__all__ = ["KnowledgeIndex", "close_knowledge_indexes", "knowledge_index", "query_terms"]

SQLITE_FILE_NAME = "index.sqlite3"
_engines: dict[str, KnowledgeIndex] = {}
_engines_lock = threading.Lock()


def knowledge_index() -> KnowledgeIndex:
    """The engine the settings name, opened once per URL or path in this process."""
    url = settings.SMARTER.knowledge_index_url
    key = url or str(settings.SMARTER.effective_knowledge_dir / SQLITE_FILE_NAME)
    engine = _engines.get(key)
    if engine is not None:
        return engine
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _open(url, key)
            _engines[key] = engine
    return engine


def _open(url: str | None, key: str) -> KnowledgeIndex:
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("the knowledge index URL must be a postgresql:// URL")
        from smarter.apps.knowledge.index.pgvector_engine import PgvectorKnowledgeIndex

        return PgvectorKnowledgeIndex(url)
    from smarter.apps.knowledge.index.sqlite_engine import SqliteKnowledgeIndex

    return SqliteKnowledgeIndex(key)


def close_knowledge_indexes() -> None:
    """Close and forget every engine opened in this process."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.close()
