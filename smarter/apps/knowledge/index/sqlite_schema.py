"""The embedded index file's layout, its table names, and the upgrade of files written before it.

- `chunks`: one row per chunk (owner, document, position, texts, heading path, page).
- `kb_sizes`: how many chunks each knowledge base holds (lexical weighting reads it per query).
- `vectors_<N>`: a sqlite-vec `vec0` table per vector size N, keyed by the chunk's id,
  partitioned by knowledge base and by cell (`cells.py`), carrying the account id, which every
  query checks too. Distances are cosine.
- `vector_cells`: a knowledge base's centroids (float32 rows), how many vectors it held when they
  were trained, and a generation that changes with them (a process holding them in memory
  re-reads them when it changes).
- `fts_a<account>_k<knowledge base>`: one FTS5 table per knowledge base (porter stemming). Its
  own table, rather than one shared by all: a query reads only this knowledge base's postings
  (a shared table narrowed by a scope token read a posting as long as the knowledge base on
  every query), and bm25's word weights come from this knowledge base's own documents, not from
  every tenant's.

Files of the earlier layout (`vec_<N>` with no cells, one `chunks_fts` for every tenant) are
rewritten into this one the first time an engine opens them (`upgrade`).
"""

from __future__ import annotations

import re
from typing import Any

TABLES = """
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
CREATE TABLE IF NOT EXISTS kb_sizes (
    account_id INTEGER NOT NULL,
    knowledge_base_id INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    PRIMARY KEY (account_id, knowledge_base_id)
);
CREATE TABLE IF NOT EXISTS vector_cells (
    account_id INTEGER NOT NULL,
    knowledge_base_id INTEGER NOT NULL,
    dimensions INTEGER NOT NULL,
    trained_at INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    centroids BLOB NOT NULL,
    PRIMARY KEY (account_id, knowledge_base_id, dimensions)
);
"""

# vec0 stores vectors in blocks of this many per partition; a cell holds about √n vectors, so a
# smaller block than the default 1,024 keeps a knowledge base's mostly-empty blocks small.
VECTOR_BLOCK = 128
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"


def vector_table(dimensions: int) -> str:
    return f"vectors_{int(dimensions)}"


def create_vector_table(connection: Any, dimensions: int) -> str:
    name = vector_table(dimensions)
    connection.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING vec0("
        "chunk_id INTEGER PRIMARY KEY, knowledge_base_id INTEGER PARTITION KEY, cell INTEGER PARTITION KEY, "
        f"account_id INTEGER, embedding float[{int(dimensions)}] distance_metric=cosine, chunk_size={VECTOR_BLOCK})"
    )
    return name


def fts_table(account_id: int, knowledge_base_id: int) -> str:
    return f"fts_a{int(account_id)}_k{int(knowledge_base_id)}"


def create_fts_table(connection: Any, account_id: int, knowledge_base_id: int) -> str:
    name = fts_table(account_id, knowledge_base_id)
    connection.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING fts5(text, tokenize = '{FTS_TOKENIZER}')")
    return name


def table_names(connection: Any) -> set[str]:
    return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def refresh_size(connection: Any, account_id: int, knowledge_base_id: int) -> int:
    """Recount a knowledge base's chunks into `kb_sizes` (after a write); the count."""
    (chunks,) = connection.execute(
        "SELECT COUNT(*) FROM chunks WHERE account_id = ? AND knowledge_base_id = ?", (account_id, knowledge_base_id)
    ).fetchone()
    if chunks:
        connection.execute(
            "INSERT INTO kb_sizes (account_id, knowledge_base_id, chunks) VALUES (?, ?, ?)"
            " ON CONFLICT (account_id, knowledge_base_id) DO UPDATE SET chunks = excluded.chunks",
            (account_id, knowledge_base_id, chunks),
        )
    else:
        connection.execute(
            "DELETE FROM kb_sizes WHERE account_id = ? AND knowledge_base_id = ?", (account_id, knowledge_base_id)
        )
    return int(chunks)


def upgrade(connection: Any) -> list[tuple[int, int, int]]:
    """Rewrite a file of the earlier layout into this one, inside the caller's write transaction.
    Returns the (account, knowledge base, vector size) groups whose vectors moved, all into
    cell 0, so the caller can split the large ones into cells."""
    names = table_names(connection)
    moved: list[tuple[int, int, int]] = []
    for name in sorted(names):
        found = re.fullmatch(r"vec_(\d+)", name)
        if not found:
            continue
        dimensions = int(found.group(1))
        target = create_vector_table(connection, dimensions)
        connection.execute(
            f"INSERT INTO {target} (chunk_id, knowledge_base_id, cell, account_id, embedding)"  # noqa: S608
            f" SELECT chunk_id, knowledge_base_id, 0, account_id, embedding FROM {name}"
        )
        connection.execute(f"DROP TABLE {name}")
        moved += [
            (int(account), int(knowledge_base), dimensions)
            for account, knowledge_base in connection.execute(
                "SELECT DISTINCT account_id, knowledge_base_id FROM chunks WHERE dimensions = ?", (dimensions,)
            )
        ]
    if "chunks_fts" in names:
        groups = connection.execute("SELECT DISTINCT account_id, knowledge_base_id FROM chunks").fetchall()
        for account_id, knowledge_base_id in groups:
            table = create_fts_table(connection, account_id, knowledge_base_id)
            connection.execute(
                f"INSERT INTO {table} (rowid, text) SELECT id, text FROM chunks"  # noqa: S608
                " WHERE account_id = ? AND knowledge_base_id = ?",
                (account_id, knowledge_base_id),
            )
            refresh_size(connection, account_id, knowledge_base_id)
        connection.execute("DROP TABLE chunks_fts")
    return moved
