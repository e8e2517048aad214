"""The embedded knowledge index: one SQLite file beside the documents, with sqlite-vec and FTS5.

- `chunks`: one row per chunk (owner, document, position, texts, heading path, page).
- `vec_<N>`: a sqlite-vec `vec0` table per vector size N, its rows keyed by the chunk's id,
  partitioned by knowledge base (a query reads only its knowledge base's vectors) and carrying
  the account id, which every query checks too. Distances are cosine.
- `chunks_fts`: FTS5 over the chunk text (porter stemming), plus a `scope` column holding one
  token per account and knowledge base, so a lexical query is narrowed by the full-text index
  itself instead of ranking every tenant's matches and filtering afterwards. A lexical query
  leaves out stopwords and words in a quarter or more of all chunks (`_weighted_terms`): they
  barely rank, yet made FTS5 score nearly every chunk. Word frequencies are the whole file's, as
  bm25's own are.
- The file is memory-mapped: a dense query reads every vector of its knowledge base.

Python's own sqlite3 here cannot load extensions, so the file is opened with `sqlean`, which can.
Each thread gets its own connection (SQLite connections must not be shared across threads); WAL
lets readers run beside a writer, and writes are serialized by a lock in this process and by
`BEGIN IMMEDIATE` between processes (a Celery worker and the web process share the file).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlean
import sqlite_vec

from smarter.apps.knowledge.index.base import query_terms
from smarter.apps.knowledge.records import Hit, IndexedChunk

BUSY_TIMEOUT_MS = 30_000
MMAP_BYTES = 1 << 30
# A word in this share of all chunks or more is left out of a lexical query (`_weighted_terms`).
COMMON_FRACTION = 0.25
# ... once the file holds this many chunks (in five chunks, a word in two is not common).
COMMON_MIN_CHUNKS = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    knowledge_base_id INTEGER NOT NULL,
    document_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    parent_position INTEGER NOT NULL,
    dimensions INTEGER NOT NULL,
    text TEXT NOT NULL,
    parent_text TEXT NOT NULL,
    heading_path TEXT NOT NULL,
    page INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS chunks_place
    ON chunks (account_id, knowledge_base_id, document_id, position);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts
    USING fts5(text, scope, tokenize = 'porter unicode61 remove_diacritics 2');
"""

_VOCABULARY = "chunks_fts_vocabulary"
_HIT_COLUMNS = "c.document_id, c.position, c.text, c.parent_text, c.heading_path, c.page"


def _scope(account_id: int, knowledge_base_id: int) -> str:
    # One token (letters and digits only, ending in a digit so stemming leaves it alone).
    return f"a{int(account_id)}k{int(knowledge_base_id)}"


def _hit(row: Sequence[Any], score: float) -> Hit:
    document_id, position, text, parent_text, heading_path, page = row[:6]
    return Hit(
        document_id=int(document_id),
        chunk=int(position),
        score=float(score),
        text=text,
        parent_text=parent_text,
        heading_path=tuple(json.loads(heading_path)),
        page=page,
    )


class SqliteKnowledgeIndex:
    """The embedded engine over one file (see the module docstring)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()
        self._pid = os.getpid()
        self._vector_tables: set[int] = set()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._write_lock:
            connection = self._connection()
            connection.executescript(_SCHEMA)

    # --- connections ---

    def _connection(self) -> Any:
        if os.getpid() != self._pid:
            # A forked child (a prefork worker) must not use its parent's connections.
            self._local = threading.local()
            self._connections = []
            self._pid = os.getpid()
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlean.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            connection.isolation_level = None  # transactions are explicit
            connection.enable_load_extension(True)
            sqlite_vec.load(connection)
            connection.enable_load_extension(False)
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            # A dense query reads every vector of its knowledge base; mapped, SQLite reads them in
            # place instead of copying each page into its own cache (about half the time at 10k).
            connection.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            # Each word's document frequency, for `_weighted_terms` (a temp table: per connection).
            connection.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{_VOCABULARY} USING fts5vocab(main, chunks_fts, row)"
            )
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        with self._write_lock:
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def close(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    def _vector_table(self, connection: Any, dimensions: int) -> str:
        name = f"vec_{int(dimensions)}"
        if dimensions not in self._vector_tables:
            connection.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING vec0("
                "chunk_id INTEGER PRIMARY KEY, knowledge_base_id INTEGER PARTITION KEY, "
                f"account_id INTEGER, embedding float[{int(dimensions)}] distance_metric=cosine)"
            )
            self._vector_tables.add(dimensions)
        return name

    def _has_vector_table(self, connection: Any, dimensions: int) -> bool:
        if dimensions in self._vector_tables:
            return True
        found = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (f"vec_{int(dimensions)}",)
        ).fetchone()
        return found is not None

    # --- writes ---

    def add(self, chunks: Sequence[IndexedChunk]) -> None:
        if not chunks:
            return
        with self._writing() as connection:
            for chunk in chunks:
                self._delete_where(
                    connection,
                    "account_id = ? AND knowledge_base_id = ? AND document_id = ? AND position = ?",
                    (chunk.account_id, chunk.knowledge_base_id, chunk.document_id, chunk.draft.position),
                )
                draft = chunk.draft
                cursor = connection.execute(
                    "INSERT INTO chunks (account_id, knowledge_base_id, document_id, position, parent_position, "
                    "dimensions, text, parent_text, heading_path, page) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        chunk.account_id,
                        chunk.knowledge_base_id,
                        chunk.document_id,
                        draft.position,
                        draft.parent_position,
                        len(chunk.vector),
                        draft.text,
                        draft.parent_text or draft.text,
                        json.dumps(list(draft.heading_path)),
                        draft.page,
                    ),
                )
                chunk_id = cursor.lastrowid
                table = self._vector_table(connection, len(chunk.vector))
                connection.execute(
                    f"INSERT INTO {table} (chunk_id, knowledge_base_id, account_id, embedding) VALUES (?, ?, ?, ?)",  # noqa: S608
                    (chunk_id, chunk.knowledge_base_id, chunk.account_id, sqlite_vec.serialize_float32(chunk.vector)),
                )
                connection.execute(
                    "INSERT INTO chunks_fts (rowid, text, scope) VALUES (?, ?, ?)",
                    (chunk_id, draft.text, _scope(chunk.account_id, chunk.knowledge_base_id)),
                )

    def _delete_where(self, connection: Any, condition: str, parameters: tuple[Any, ...]) -> int:
        rows = connection.execute(f"SELECT id, dimensions FROM chunks WHERE {condition}", parameters).fetchall()  # noqa: S608
        for chunk_id, dimensions in rows:
            if self._has_vector_table(connection, dimensions):
                connection.execute(f"DELETE FROM vec_{int(dimensions)} WHERE chunk_id = ?", (chunk_id,))  # noqa: S608
            connection.execute("DELETE FROM chunks_fts WHERE rowid = ?", (chunk_id,))
            connection.execute("DELETE FROM chunks WHERE id = ?", (chunk_id,))
        return len(rows)

    def delete_document(self, *, account_id: int, knowledge_base_id: int, document_id: int) -> int:
        with self._writing() as connection:
            return self._delete_where(
                connection,
                "account_id = ? AND knowledge_base_id = ? AND document_id = ?",
                (account_id, knowledge_base_id, document_id),
            )

    def delete_knowledge_base(self, *, account_id: int, knowledge_base_id: int) -> int:
        with self._writing() as connection:
            return self._delete_where(
                connection, "account_id = ? AND knowledge_base_id = ?", (account_id, knowledge_base_id)
            )

    # --- reads ---

    def count(self, *, account_id: int, knowledge_base_id: int, document_id: int | None = None) -> int:
        sql = "SELECT COUNT(*) FROM chunks WHERE account_id = ? AND knowledge_base_id = ?"
        parameters: tuple[Any, ...] = (account_id, knowledge_base_id)
        if document_id is not None:
            sql += " AND document_id = ?"
            parameters += (document_id,)
        return int(self._connection().execute(sql, parameters).fetchone()[0])

    def dense(self, *, account_id: int, knowledge_base_id: int, vector: Sequence[float], k: int) -> list[Hit]:
        connection = self._connection()
        if k <= 0 or not vector or not self._has_vector_table(connection, len(vector)):
            return []
        # The vec0 partition key confines the scan to this knowledge base; the account is checked
        # on the vector row and again on the chunk row.
        rows = connection.execute(
            f"SELECT {_HIT_COLUMNS}, knn.distance FROM ("  # noqa: S608
            f"  SELECT chunk_id, distance FROM vec_{len(vector)}"
            "   WHERE embedding MATCH ? AND k = ? AND knowledge_base_id = ? AND account_id = ?"
            ") AS knn JOIN chunks AS c ON c.id = knn.chunk_id"
            " WHERE c.account_id = ? AND c.knowledge_base_id = ? ORDER BY knn.distance, c.id",
            (
                sqlite_vec.serialize_float32(list(vector)),
                int(k),
                knowledge_base_id,
                account_id,
                account_id,
                knowledge_base_id,
            ),
        ).fetchall()
        return [_hit(row, 1.0 - float(row[6])) for row in rows]

    def _weighted_terms(self, connection: Any, terms: list[str]) -> list[str]:
        """`terms` without those in at least a quarter of all chunks; if every term is that
        common, the rarest alone.

        bm25 weighs a word in n of N rows by log((N - n + 0.5) / (n + 0.5)): at n = N / 4 that is
        about 1.1, against 7 to 11 for a word in a handful of chunks (and FTS5 floors it at 1e-6
        from n = N / 2 on). Such a word barely moves the ranking, but FTS5 still reads its posting
        list and scores every chunk it is in, which was most of a lexical query's time. A word
        the index does not hold as typed (it stores porter stems) counts as rare and is kept."""
        if len(terms) < 2:
            return terms
        total = int(connection.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        if total < COMMON_MIN_CHUNKS:
            return terms  # scoring every match is cheap here, and a few chunks say little of a word
        found = connection.execute(
            f"SELECT term, doc FROM temp.{_VOCABULARY} WHERE term IN ({', '.join('?' * len(terms))})",  # noqa: S608
            terms,
        ).fetchall()
        frequencies = {term: int(doc) for term, doc in found}
        weighted = [term for term in terms if frequencies.get(term, 0) < COMMON_FRACTION * total]
        return weighted or [min(terms, key=lambda term: frequencies.get(term, 0))]

    def lexical(self, *, account_id: int, knowledge_base_id: int, query: str, k: int) -> list[Hit]:
        terms = query_terms(query)
        if k <= 0 or not terms:
            return []
        connection = self._connection()
        terms = self._weighted_terms(connection, terms)
        # Each word quoted as an FTS5 string (words hold no quotes): no operator, column filter
        # or syntax of the user's reaches FTS5. Any word may match; bm25 ranks.
        words = " OR ".join(f'"{term}"' for term in terms)
        match = f'scope : "{_scope(account_id, knowledge_base_id)}" AND text : ({words})'
        rows = connection.execute(
            f"SELECT {_HIT_COLUMNS}, fts.score FROM ("  # noqa: S608
            "  SELECT rowid, bm25(chunks_fts, 1.0, 0.0) AS score FROM chunks_fts"
            "   WHERE chunks_fts MATCH ? ORDER BY score LIMIT ?"
            ") AS fts JOIN chunks AS c ON c.id = fts.rowid"
            " WHERE c.account_id = ? AND c.knowledge_base_id = ? ORDER BY fts.score, c.id",
            (match, int(k), account_id, knowledge_base_id),
        ).fetchall()
        # bm25() is lower for better matches; negated, higher is better.
        return [_hit(row, -float(row[6])) for row in rows]
