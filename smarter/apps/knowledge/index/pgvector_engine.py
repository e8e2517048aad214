"""The production knowledge index: PostgreSQL with pgvector (>= 0.8) and its own full-text search.

One table per vector size N (`knowledge_chunks_<N>`, column `embedding vector(N)`), holding each
chunk's owner, position, texts and a generated `tsvector` of its text:

- an HNSW index (cosine) serves dense queries. A filtered HNSW scan used to stop after
  `ef_search` candidates, so a knowledge base that is a small part of the table got fewer than k
  rows; pgvector 0.8's iterative scans (`hnsw.iterative_scan = relaxed_order`, set per
  transaction) keep scanning until k rows pass the filter. "Relaxed" order may be slightly out of
  order, so the rows are sorted again by their distance;
- a GIN index serves lexical queries (`websearch_to_tsquery`, ranked by `ts_rank_cd`);
- a b-tree on (account, knowledge base, document, position) serves deletes, counts and
  re-ingestion, and the exact search of a small knowledge base (at most EXACT_MAX_ROWS chunks:
  every vector compared, recall 1); a larger one goes through HNSW.

Every query filters by account and knowledge base.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from smarter.apps.knowledge.index.base import query_terms
from smarter.apps.knowledge.records import Hit, IndexedChunk

TABLE_PREFIX = "knowledge_chunks_"
TEXT_SEARCH_CONFIG = "english"
# Candidates an HNSW scan keeps (pgvector's default is 40); iterative scans go past it as needed.
# Measured on 10k clustered 384-dimension vectors: recall@5 against exact search 0.81 at 64 and
# 0.92 at 100 with the default build; 0.96 at 150 with ef_construction 200, at about 3 ms.
MIN_EF_SEARCH = 150
# The HNSW build: pgvector's default m (16) and a wider ef_construction (default 64), which
# costs about twice the build time and raises the recall of the same ef_search.
HNSW_BUILD = "m = 16, ef_construction = 200"
# A knowledge base of at most this many chunks is searched exactly (every vector compared),
# which at about 5 microseconds a row stays under 5 ms.
EXACT_MAX_ROWS = 1000
# Iterative scans stop after this many tuples (pgvector's default is 20,000).
MAX_SCAN_TUPLES = 50_000

_HIT_COLUMNS = "document_id, position, text, parent_text, heading_path, page"


def _table(dimensions: int) -> str:
    return f"{TABLE_PREFIX}{int(dimensions)}"


def _vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(value)) for value in vector) + "]"


def _hit(row: Sequence[Any], score: float) -> Hit:
    document_id, position, text, parent_text, heading_path, page = row[:6]
    path = heading_path if isinstance(heading_path, list) else json.loads(heading_path)
    return Hit(
        document_id=int(document_id),
        chunk=int(position),
        score=float(score),
        text=text,
        parent_text=parent_text,
        heading_path=tuple(path),
        page=page,
    )


class PgvectorKnowledgeIndex:
    """The PostgreSQL engine at `url` (see the module docstring)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._connections: list[psycopg.Connection[Any]] = []
        self._connections_lock = threading.Lock()
        self._pid = os.getpid()
        self._tables: set[int] = set()
        with self._connection().transaction() as transaction:
            transaction.connection.execute("SELECT pg_advisory_xact_lock(hashtext('smarter_knowledge_schema'))")
            transaction.connection.execute("CREATE EXTENSION IF NOT EXISTS vector")

    # --- connections ---

    def _connection(self) -> psycopg.Connection[Any]:
        if os.getpid() != self._pid:
            self._local = threading.local()
            self._connections = []
            self._pid = os.getpid()
        connection: psycopg.Connection[Any] | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            connection = psycopg.connect(self.url, autocommit=True)
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        connection = self._connection()
        with connection.transaction():
            yield connection

    def close(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    # --- tables ---

    def _existing_tables(self, connection: psycopg.Connection[Any]) -> list[int]:
        rows = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_name LIKE %s",
            (TABLE_PREFIX + "%",),
        ).fetchall()
        found = {int(name.removeprefix(TABLE_PREFIX)) for (name,) in rows if name.removeprefix(TABLE_PREFIX).isdigit()}
        self._tables |= found
        return sorted(found)

    def _ensure_table(self, connection: psycopg.Connection[Any], dimensions: int) -> str:
        table = _table(dimensions)
        if dimensions in self._tables:
            return table
        # Two processes creating the same table at once would collide in the catalogue.
        connection.execute("SELECT pg_advisory_xact_lock(hashtext('smarter_knowledge_schema'))")
        connection.execute(
            f"""CREATE TABLE IF NOT EXISTS {table} (
                id bigserial PRIMARY KEY,
                account_id bigint NOT NULL,
                knowledge_base_id bigint NOT NULL,
                document_id bigint NOT NULL,
                position integer NOT NULL,
                parent_position integer NOT NULL,
                text text NOT NULL,
                parent_text text NOT NULL,
                heading_path jsonb NOT NULL,
                page integer,
                embedding vector({int(dimensions)}) NOT NULL,
                lexemes tsvector GENERATED ALWAYS AS (to_tsvector('{TEXT_SEARCH_CONFIG}', text)) STORED
            )"""
        )
        connection.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {table}_place "
            f"ON {table} (account_id, knowledge_base_id, document_id, position)"
        )
        connection.execute(
            f"CREATE INDEX IF NOT EXISTS {table}_embedding ON {table} "
            f"USING hnsw (embedding vector_cosine_ops) WITH ({HNSW_BUILD})"
        )
        connection.execute(f"CREATE INDEX IF NOT EXISTS {table}_lexemes ON {table} USING gin (lexemes)")
        self._tables.add(dimensions)
        return table

    # --- writes ---

    def add(self, chunks: Sequence[IndexedChunk]) -> None:
        if not chunks:
            return
        with self._transaction() as connection:
            by_size: dict[int, list[IndexedChunk]] = {}
            for chunk in chunks:
                by_size.setdefault(len(chunk.vector), []).append(chunk)
            for dimensions, group in by_size.items():
                table = self._ensure_table(connection, dimensions)
                rows = [
                    (
                        chunk.account_id,
                        chunk.knowledge_base_id,
                        chunk.document_id,
                        chunk.draft.position,
                        chunk.draft.parent_position,
                        chunk.draft.text,
                        chunk.draft.parent_text or chunk.draft.text,
                        json.dumps(list(chunk.draft.heading_path)),
                        chunk.draft.page,
                        _vector_literal(chunk.vector),
                    )
                    for chunk in group
                ]
                with connection.cursor() as cursor:
                    cursor.executemany(
                        f"INSERT INTO {table} (account_id, knowledge_base_id, document_id, position, "  # noqa: S608
                        "parent_position, text, parent_text, heading_path, page, embedding) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s::vector) "
                        "ON CONFLICT (account_id, knowledge_base_id, document_id, position) DO UPDATE SET "
                        "parent_position = EXCLUDED.parent_position, text = EXCLUDED.text, "
                        "parent_text = EXCLUDED.parent_text, heading_path = EXCLUDED.heading_path, "
                        "page = EXCLUDED.page, embedding = EXCLUDED.embedding",
                        rows,
                    )

    def _delete(self, condition: str, parameters: tuple[Any, ...]) -> int:
        deleted = 0
        with self._transaction() as connection:
            for dimensions in self._existing_tables(connection):
                cursor = connection.execute(f"DELETE FROM {_table(dimensions)} WHERE {condition}", parameters)  # noqa: S608
                deleted += cursor.rowcount
        return deleted

    def delete_document(self, *, account_id: int, knowledge_base_id: int, document_id: int) -> int:
        return self._delete(
            "account_id = %s AND knowledge_base_id = %s AND document_id = %s",
            (account_id, knowledge_base_id, document_id),
        )

    def delete_knowledge_base(self, *, account_id: int, knowledge_base_id: int) -> int:
        return self._delete("account_id = %s AND knowledge_base_id = %s", (account_id, knowledge_base_id))

    # --- reads ---

    def count(self, *, account_id: int, knowledge_base_id: int, document_id: int | None = None) -> int:
        condition = "account_id = %s AND knowledge_base_id = %s"
        parameters: tuple[Any, ...] = (account_id, knowledge_base_id)
        if document_id is not None:
            condition += " AND document_id = %s"
            parameters += (document_id,)
        connection = self._connection()
        total = 0
        for dimensions in self._existing_tables(connection):
            row = connection.execute(f"SELECT COUNT(*) FROM {_table(dimensions)} WHERE {condition}", parameters)  # noqa: S608
            total += int(row.fetchone()[0])  # type: ignore[index]
        return total

    def dense(self, *, account_id: int, knowledge_base_id: int, vector: Sequence[float], k: int) -> list[Hit]:
        if k <= 0 or not vector:
            return []
        dimensions = len(vector)
        if dimensions not in self._tables and dimensions not in self._existing_tables(self._connection()):
            return []
        literal = _vector_literal(vector)
        table = _table(dimensions)
        with self._transaction() as connection:
            # A knowledge base of at most EXACT_MAX_ROWS chunks is searched exactly, through the
            # b-tree on its owner (plain index scans off, so not HNSW); a larger one through
            # HNSW, which the planner is told to use: past an ef_search of about 150 its estimate
            # makes a sequential scan look cheaper, and that scan reads every toasted vector of
            # the table (about 45 ms at 10k rows).
            owned = connection.execute(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE account_id = %s AND knowledge_base_id = %s "  # noqa: S608
                "LIMIT %s) AS owned",
                (account_id, knowledge_base_id, EXACT_MAX_ROWS + 1),
            ).fetchone()
            small = owned is not None and int(owned[0]) <= EXACT_MAX_ROWS
            # One round trip for the settings (no parameters: the simple protocol takes several).
            if small:
                connection.execute("SET LOCAL enable_indexscan = off")
            else:
                connection.execute(
                    "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; "
                    "SET LOCAL hnsw.iterative_scan = relaxed_order; "
                    f"SET LOCAL hnsw.ef_search = {max(MIN_EF_SEARCH, int(k))}; "
                    f"SET LOCAL hnsw.max_scan_tuples = {MAX_SCAN_TUPLES}"
                )
            rows = connection.execute(
                f"SELECT {_HIT_COLUMNS}, embedding <=> %s::vector AS distance FROM {table} "  # noqa: S608
                "WHERE account_id = %s AND knowledge_base_id = %s ORDER BY distance LIMIT %s",
                (literal, account_id, knowledge_base_id, int(k)),
            ).fetchall()
        rows.sort(key=lambda row: (float(row[6]), row[0], row[1]))
        return [_hit(row, 1.0 - float(row[6])) for row in rows]

    def lexical(self, *, account_id: int, knowledge_base_id: int, query: str, k: int) -> list[Hit]:
        # Only words reach websearch_to_tsquery (no quotes, no `-`), joined by its `or`: any word
        # may match and ts_rank_cd ranks, as FTS5 does with bm25 in the embedded engine.
        terms = [term for term in query_terms(query) if term != "or"]
        if k <= 0 or not terms:
            return []
        websearch = " or ".join(terms)
        connection = self._connection()
        hits: list[Hit] = []
        for dimensions in self._existing_tables(connection):
            rows = connection.execute(
                f"SELECT {_HIT_COLUMNS}, ts_rank_cd(lexemes, query) AS rank "  # noqa: S608
                f"FROM {_table(dimensions)}, websearch_to_tsquery('{TEXT_SEARCH_CONFIG}', %s) AS query "
                "WHERE account_id = %s AND knowledge_base_id = %s AND lexemes @@ query "
                "ORDER BY rank DESC, id LIMIT %s",
                (websearch, account_id, knowledge_base_id, int(k)),
            ).fetchall()
            hits.extend(_hit(row, float(row[6])) for row in rows)
        hits.sort(key=lambda hit: -hit.score)
        return hits[:k]
