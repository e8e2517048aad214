"""The embedded knowledge index: one SQLite file beside the documents, with sqlite-vec and FTS5.

The file's layout is `sqlite_schema.py`'s; dense search over cells is `cells.py`'s.

- A dense query searches the cells nearest to the question (all of a small knowledge base).
- A lexical query reads the knowledge base's own FTS5 table. It leaves out stopwords and words in
  a quarter or more of the knowledge base's chunks (`_weighted_terms`): they barely rank, yet made
  FTS5 score nearly every chunk.
- The file is memory-mapped: a dense query reads the vectors of its cells in place.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlean
import sqlite_vec

from smarter.apps.knowledge.index import cells
from smarter.apps.knowledge.index.base import query_terms
from smarter.apps.knowledge.index.sqlite_schema import (
    TABLES,
    create_fts_table,
    create_vector_table,
    fts_table,
    refresh_size,
    table_names,
    upgrade,
    vector_table,
)
from smarter.apps.knowledge.records import Hit, IndexedChunk

BUSY_TIMEOUT_MS = 30_000
MMAP_BYTES = 1 << 30
# A word in this share of a knowledge base's chunks or more is left out of a lexical query.
COMMON_FRACTION = 0.25
# ... once the knowledge base holds this many chunks (in five chunks, a word in two is not common).
COMMON_MIN_CHUNKS = 1000
# Vectors read per round when a knowledge base is split into cells.
_READ_BATCH = 2048

_HIT_COLUMNS = "c.document_id, c.position, c.text, c.parent_text, c.heading_path, c.page"


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


@dataclass(frozen=True)
class _Cells:
    generation: int
    centroids: np.ndarray | None  # None: one cell (0), searched whole


_ONE_CELL = _Cells(generation=0, centroids=None)


class SqliteKnowledgeIndex:
    """The embedded engine over one file (see the module docstring)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()
        self._pid = os.getpid()
        self._cells: dict[tuple[int, int, int], _Cells] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection().executescript(TABLES)
        with self._writing() as connection:
            for account_id, knowledge_base_id, dimensions in upgrade(connection):
                self._split_if_grown(connection, account_id, knowledge_base_id, dimensions)

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
            # A dense query reads the vectors of its cells; mapped, SQLite reads them in place
            # instead of copying each page into its own cache.
            connection.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            self._local.connection = connection
            self._local.vocabularies = set()
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
                self._cells.clear()  # it may hold centroids this transaction wrote and undid
                raise
            connection.execute("COMMIT")

    def close(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    # --- writes ---

    def add(self, chunks: Sequence[IndexedChunk]) -> None:
        if not chunks:
            return
        with self._writing() as connection:
            vectors: dict[tuple[int, int, int], list[tuple[int, Sequence[float]]]] = {}
            lexical_tables: dict[tuple[int, int], str] = {}
            for chunk in chunks:
                owner = (chunk.account_id, chunk.knowledge_base_id)
                self._delete_where(
                    connection,
                    "account_id = ? AND knowledge_base_id = ? AND document_id = ? AND position = ?",
                    (*owner, chunk.document_id, chunk.draft.position),
                )
                chunk_id = self._insert_chunk(connection, chunk)
                vectors.setdefault((*owner, len(chunk.vector)), []).append((chunk_id, chunk.vector))
                if owner not in lexical_tables:
                    lexical_tables[owner] = create_fts_table(connection, *owner)
                connection.execute(
                    f"INSERT INTO {lexical_tables[owner]} (rowid, text) VALUES (?, ?)",  # noqa: S608
                    (chunk_id, chunk.draft.text),
                )
            for owner in lexical_tables:
                refresh_size(connection, *owner)
            for (account_id, knowledge_base_id, dimensions), rows in vectors.items():
                self._insert_vectors(connection, account_id, knowledge_base_id, rows)
                self._split_if_grown(connection, account_id, knowledge_base_id, dimensions)

    def _insert_chunk(self, connection: Any, chunk: IndexedChunk) -> int:
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
        return int(cursor.lastrowid)

    def _insert_vectors(
        self, connection: Any, account_id: int, knowledge_base_id: int, rows: Sequence[tuple[int, Sequence[float]]]
    ) -> None:
        """Store vectors of one size, each in the cell of its nearest centroid."""
        dimensions = len(rows[0][1])
        table = create_vector_table(connection, dimensions)
        matrix = np.asarray([vector for _, vector in rows], dtype=np.float32)
        current = self._current_cells(connection, account_id, knowledge_base_id, dimensions)
        assigned = (
            cells.nearest_cells(current.centroids, matrix)
            if current.centroids is not None
            else np.zeros(len(rows), dtype=np.int64)
        )
        connection.executemany(
            f"INSERT INTO {table} (chunk_id, knowledge_base_id, cell, account_id, embedding) VALUES (?, ?, ?, ?, ?)",  # noqa: S608
            [
                (chunk_id, knowledge_base_id, int(cell), account_id, vector.tobytes())
                for (chunk_id, _), cell, vector in zip(rows, assigned, matrix, strict=True)
            ],
        )

    def _split_if_grown(self, connection: Any, account_id: int, knowledge_base_id: int, dimensions: int) -> None:
        """Split a knowledge base's vectors into cells (again) once it has grown enough (`cells`):
        train centroids on its vectors, then move each vector to its nearest centroid's cell."""
        (vectors,) = connection.execute(
            "SELECT COUNT(*) FROM chunks WHERE account_id = ? AND knowledge_base_id = ? AND dimensions = ?",
            (account_id, knowledge_base_id, dimensions),
        ).fetchone()
        found = connection.execute(
            "SELECT trained_at, generation FROM vector_cells"
            " WHERE account_id = ? AND knowledge_base_id = ? AND dimensions = ?",
            (account_id, knowledge_base_id, dimensions),
        ).fetchone()
        trained_at, generation = found or (0, 0)
        if not cells.needs_training(int(vectors), int(trained_at)):
            return
        table = vector_table(dimensions)
        ids: list[int] = []
        blobs: list[bytes] = []
        cursor = connection.execute(
            f"SELECT chunk_id, embedding FROM {table} WHERE knowledge_base_id = ? AND account_id = ?",  # noqa: S608
            (knowledge_base_id, account_id),
        )
        while batch := cursor.fetchmany(_READ_BATCH):
            ids += [int(row[0]) for row in batch]
            blobs += [row[1] for row in batch]
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), dimensions)
        centroids = cells.train_centroids(matrix, cells.cell_count(len(ids)))
        assigned = cells.nearest_cells(centroids, matrix)
        connection.execute(
            f"DELETE FROM {table} WHERE knowledge_base_id = ? AND account_id = ?",  # noqa: S608
            (knowledge_base_id, account_id),
        )
        connection.executemany(
            f"INSERT INTO {table} (chunk_id, knowledge_base_id, cell, account_id, embedding) VALUES (?, ?, ?, ?, ?)",  # noqa: S608
            [
                (chunk_id, knowledge_base_id, int(cell), account_id, blob)
                for chunk_id, cell, blob in zip(ids, assigned, blobs, strict=True)
            ],
        )
        connection.execute(
            "INSERT INTO vector_cells (account_id, knowledge_base_id, dimensions, trained_at, generation, centroids)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, knowledge_base_id, dimensions)"
            " DO UPDATE SET trained_at = excluded.trained_at, generation = excluded.generation,"
            " centroids = excluded.centroids",
            (account_id, knowledge_base_id, dimensions, len(ids), int(generation) + 1, centroids.tobytes()),
        )

    def _delete_where(self, connection: Any, condition: str, parameters: tuple[Any, ...]) -> int:
        rows = connection.execute(
            f"SELECT id, dimensions, account_id, knowledge_base_id FROM chunks WHERE {condition}",  # noqa: S608
            parameters,
        ).fetchall()
        if not rows:
            return 0
        names = table_names(connection)
        for chunk_id, dimensions, account_id, knowledge_base_id in rows:
            if vector_table(dimensions) in names:
                connection.execute(f"DELETE FROM {vector_table(dimensions)} WHERE chunk_id = ?", (chunk_id,))  # noqa: S608
            lexical_table = fts_table(account_id, knowledge_base_id)
            if lexical_table in names:
                connection.execute(f"DELETE FROM {lexical_table} WHERE rowid = ?", (chunk_id,))  # noqa: S608
            connection.execute("DELETE FROM chunks WHERE id = ?", (chunk_id,))
        return len(rows)

    def delete_document(self, *, account_id: int, knowledge_base_id: int, document_id: int) -> int:
        with self._writing() as connection:
            removed = self._delete_where(
                connection,
                "account_id = ? AND knowledge_base_id = ? AND document_id = ?",
                (account_id, knowledge_base_id, document_id),
            )
            refresh_size(connection, account_id, knowledge_base_id)
            return removed

    def delete_knowledge_base(self, *, account_id: int, knowledge_base_id: int) -> int:
        with self._writing() as connection:
            (removed,) = connection.execute(
                "SELECT COUNT(*) FROM chunks WHERE account_id = ? AND knowledge_base_id = ?",
                (account_id, knowledge_base_id),
            ).fetchone()
            names = table_names(connection)
            dimensions = [
                int(row[0])
                for row in connection.execute(
                    "SELECT DISTINCT dimensions FROM chunks WHERE account_id = ? AND knowledge_base_id = ?",
                    (account_id, knowledge_base_id),
                )
            ]
            for size in dimensions:
                if vector_table(size) in names:
                    connection.execute(
                        f"DELETE FROM {vector_table(size)} WHERE knowledge_base_id = ? AND account_id = ?",  # noqa: S608
                        (knowledge_base_id, account_id),
                    )
            connection.execute(f"DROP TABLE IF EXISTS {fts_table(account_id, knowledge_base_id)}")
            for table in ("chunks", "vector_cells"):
                connection.execute(
                    f"DELETE FROM {table} WHERE account_id = ? AND knowledge_base_id = ?",  # noqa: S608
                    (account_id, knowledge_base_id),
                )
            refresh_size(connection, account_id, knowledge_base_id)
            return int(removed)

    # --- reads ---

    def count(self, *, account_id: int, knowledge_base_id: int, document_id: int | None = None) -> int:
        sql = "SELECT COUNT(*) FROM chunks WHERE account_id = ? AND knowledge_base_id = ?"
        parameters: tuple[Any, ...] = (account_id, knowledge_base_id)
        if document_id is not None:
            sql += " AND document_id = ?"
            parameters += (document_id,)
        return int(self._connection().execute(sql, parameters).fetchone()[0])

    def _current_cells(self, connection: Any, account_id: int, knowledge_base_id: int, dimensions: int) -> _Cells:
        """The knowledge base's centroids, re-read only when their generation has moved (another
        process, a worker, may have split the knowledge base since)."""
        key = (account_id, knowledge_base_id, dimensions)
        found = connection.execute(
            "SELECT generation FROM vector_cells WHERE account_id = ? AND knowledge_base_id = ? AND dimensions = ?",
            key,
        ).fetchone()
        if found is None:
            return _ONE_CELL
        known = self._cells.get(key)
        if known is not None and known.generation == found[0]:
            return known
        generation, blob = connection.execute(
            "SELECT generation, centroids FROM vector_cells"
            " WHERE account_id = ? AND knowledge_base_id = ? AND dimensions = ?",
            key,
        ).fetchone()
        current = _Cells(int(generation), np.frombuffer(blob, dtype=np.float32).reshape(-1, dimensions))
        self._cells[key] = current
        return current

    def dense(self, *, account_id: int, knowledge_base_id: int, vector: Sequence[float], k: int) -> list[Hit]:
        connection = self._connection()
        dimensions = len(vector)
        if k <= 0 or not vector or vector_table(dimensions) not in self._known_tables(connection, dimensions):
            return []
        query = np.asarray(vector, dtype=np.float32)
        current = self._current_cells(connection, account_id, knowledge_base_id, dimensions)
        searched = [0] if current.centroids is None else cells.cells_to_search(current.centroids, query)
        # One k-nearest search per cell (the partition keys confine each to its knowledge base and
        # cell; the account is checked on the vector row and again on the chunk row), merged.
        per_cell = " UNION ALL ".join(
            f"SELECT chunk_id, distance FROM {vector_table(dimensions)}"  # noqa: S608
            f" WHERE embedding MATCH :vector AND k = :k AND knowledge_base_id = :kb AND cell = {int(cell)}"
            " AND account_id = :account"
            for cell in searched
        )
        rows = connection.execute(
            f"SELECT {_HIT_COLUMNS}, knn.distance FROM ({per_cell}) AS knn"  # noqa: S608
            " JOIN chunks AS c ON c.id = knn.chunk_id"
            " WHERE c.account_id = :account AND c.knowledge_base_id = :kb ORDER BY knn.distance, c.id LIMIT :k",
            {"vector": query.tobytes(), "k": int(k), "kb": knowledge_base_id, "account": account_id},
        ).fetchall()
        return [_hit(row, 1.0 - float(row[6])) for row in rows]

    def _known_tables(self, connection: Any, dimensions: int) -> set[str]:
        known: set[str] = getattr(self._local, "tables", set())
        if vector_table(dimensions) not in known:
            known = table_names(connection)
            self._local.tables = known
        return known

    def _weighted_terms(self, connection: Any, table: str, terms: list[str], total: int) -> list[str]:
        """`terms` without those in at least a quarter of the knowledge base's chunks; if every
        term is that common, the rarest alone.

        bm25 weighs a word in n of N rows by log((N - n + 0.5) / (n + 0.5)): at n = N / 4 that is
        about 1.1, against 7 to 11 for a word in a handful of chunks (and FTS5 floors it at 1e-6
        from n = N / 2 on). Such a word barely moves the ranking, but FTS5 still reads its posting
        list and scores every chunk it is in, which was most of a lexical query's time. A word
        the index does not hold as typed (it stores porter stems) counts as rare and is kept."""
        if len(terms) < 2 or total < COMMON_MIN_CHUNKS:
            return terms  # scoring every match is cheap here, and a few chunks say little of a word
        vocabulary = f"{table}_words"
        if vocabulary not in self._local.vocabularies:
            # Each word's document frequency (a temp table: per connection).
            connection.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{vocabulary} USING fts5vocab(main, {table}, row)"
            )
            self._local.vocabularies.add(vocabulary)
        found = connection.execute(
            f"SELECT term, doc FROM temp.{vocabulary} WHERE term IN ({', '.join('?' * len(terms))})",  # noqa: S608
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
        size = connection.execute(
            "SELECT chunks FROM kb_sizes WHERE account_id = ? AND knowledge_base_id = ?",
            (account_id, knowledge_base_id),
        ).fetchone()
        if size is None:
            return []
        table = fts_table(account_id, knowledge_base_id)
        try:
            terms = self._weighted_terms(connection, table, terms, int(size[0]))
            # Each word quoted as an FTS5 string (words hold no quotes): no operator, column filter
            # or syntax of the user's reaches FTS5. Any word may match; bm25 ranks.
            rows = connection.execute(
                f"SELECT {_HIT_COLUMNS}, fts.score FROM ("  # noqa: S608
                f"  SELECT rowid, bm25({table}) AS score FROM {table} WHERE {table} MATCH ? ORDER BY score LIMIT ?"
                ") AS fts JOIN chunks AS c ON c.id = fts.rowid"
                " WHERE c.account_id = ? AND c.knowledge_base_id = ? ORDER BY fts.score, c.id",
                (" OR ".join(f'"{term}"' for term in terms), int(k), account_id, knowledge_base_id),
            ).fetchall()
        except sqlean.OperationalError as error:
            if "no such table" in str(error):
                return []  # deleted by another process since this one last looked
            raise
        # bm25() is lower for better matches; negated, higher is better.
        return [_hit(row, -float(row[6])) for row in rows]
