"""The production knowledge index: PostgreSQL with pgvector (>= 0.8) and its own full-text search.

One table per vector size N (`knowledge_chunks_<N>`, column `embedding vector(N)`), holding each
chunk's owner, position, texts and a generated `tsvector` of its text:

- an HNSW index (cosine) serves dense queries. A filtered HNSW scan used to stop after
  `ef_search` candidates, so a knowledge base that is a small part of the table got fewer than k
  rows; pgvector 0.8's iterative scans (`hnsw.iterative_scan = relaxed_order`, set per
  transaction) keep scanning until k rows pass the filter. "Relaxed" order may be slightly out of
  order, so the rows are sorted again by their distance;
- a GIN index serves lexical queries: any word of the question may match; a chunk holding two
  or more of its words ranks above one holding one, and `ts_rank` with length normalisation
  ranks within each (more often, in a shorter chunk, ranks higher, as bm25 does in the embedded
  engine, though without its weight for rare words). When k chunks hold two of the words, only
  those are read and ranked (see _LEXICAL_SQL). `ts_rank_cd` ranked before: on OR-ed words it
  counts occurrences (recall@5 0.40 against 0.61 now, MRR@10 0.24 against 0.45, on the quality
  run's questions in this engine), and cost three times as much per matching chunk. Words in a
  quarter or more of the table's chunks are left out first (as the embedded engine does; see
  `_common_lexemes`): they barely tell chunks apart, yet every chunk they are in had to be read
  and ranked (a word in every chunk made a query 85 ms at 10k);
- a b-tree on (account, knowledge base, document, position) serves deletes, counts and
  re-ingestion, and the exact search of a small knowledge base (at most EXACT_MAX_ROWS chunks:
  every vector compared, recall 1); a larger one goes through HNSW.

Every query filters by account and knowledge base. Vectors travel in pgvector's binary format
(no text to build or parse), and the size of a knowledge base (exact search or HNSW) is
remembered for SIZE_CACHE_SECONDS instead of counted by every dense query.

Tables made by earlier versions (HNSW built with `ef_construction = 200`) keep working as they
are: the build parameters only matter when an index is built.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types import TypeInfo

from smarter.apps.knowledge.index.base import query_terms
from smarter.apps.knowledge.records import Hit, IndexedChunk

TABLE_PREFIX = "knowledge_chunks_"
TEXT_SEARCH_CONFIG = "english"
# Candidates an HNSW scan keeps (pgvector's default is 40); iterative scans go past it as needed.
# Measured on 10k clustered 384-dimension vectors (benchmarks/knowledge.py, the same queries
# interleaved): questions near what the knowledge base holds find 0.996 of the exact top 5 at 40
# and 64, 1.0 at 100 and 150; questions about nothing it holds (every chunk about as far, the
# worst case of an approximate search, and one where no chunk answers anyway) 0.68, 0.81, 0.91
# and 0.95. The scan took 1.2, 1.3, 2.0 and 4.0 ms: 150 doubled the time of 100 for the worst
# case's last 0.04.
MIN_EF_SEARCH = 100
# The HNSW build: pgvector's defaults. ef_construction 200 (the previous build) gained about
# 0.015 of recall@5 on the worst-case questions and nothing on the others, for about three
# times the build time (and the time of every insert into the graph).
HNSW_BUILD = "m = 16, ef_construction = 64"
# A knowledge base of at most this many chunks is searched exactly (every vector compared),
# which at about 5 microseconds a row stays under 5 ms.
EXACT_MAX_ROWS = 1000
# Iterative scans stop after this many tuples (pgvector's default is 20,000). A scan that stops
# before k rows passed the filter is answered again by the exact search.
MAX_SCAN_TUPLES = 50_000
# How long a knowledge base's size class (exact search or HNSW) is trusted without counting
# again. A stale answer costs time, never rows: see `dense`.
SIZE_CACHE_SECONDS = 60.0
# A lexeme in at least this share of a table's chunks is left out of a lexical query (unless
# every word of the query is that common: then the rarest one alone is searched). Shares come
# from the table's statistics (ANALYZE, run by autovacuum), read again after this many seconds.
COMMON_SHARE = 0.25
COMMON_CACHE_SECONDS = 300.0
# ... once the table holds this many chunks (in five chunks, a word in two is not common).
COMMON_MIN_CHUNKS = 1000
# How long the list of chunk tables is trusted by lexical queries (see `_searchable_tables`).
TABLES_CACHE_SECONDS = 60.0

_HIT_COLUMNS = "document_id, position, text, parent_text, heading_path, page"


def _table(dimensions: int) -> str:
    return f"{TABLE_PREFIX}{int(dimensions)}"


class _Vector:
    """A vector to send as a query parameter in pgvector's binary format."""

    __slots__ = ("values",)

    def __init__(self, values: Sequence[float]) -> None:
        self.values = values


class _VectorDumper(Dumper):
    """pgvector's binary `vector`: its size and a reserved word (two big-endian int16), then the
    values as big-endian float4. The type's oid is set per database (see `_vector_dumper`)."""

    format = Format.BINARY

    def dump(self, obj: _Vector) -> bytes:
        values = obj.values
        return struct.pack(f">HH{len(values)}f", len(values), 0, *values)


def _vector_dumper(oid: int) -> type[_VectorDumper]:
    return type("VectorDumper", (_VectorDumper,), {"oid": oid})


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
        self._tables_listed = float("-inf")
        # (account, knowledge base) -> (searched exactly, when counted), see `_searched_exactly`.
        self._size_classes: dict[tuple[int, int], tuple[bool, float]] = {}
        # table -> ({lexeme: share of chunks}, when read), see `_common_lexemes`.
        self._common: dict[str, tuple[dict[str, float], float]] = {}
        self._vector_dumper: type[_VectorDumper] | None = None
        with self._connection().transaction() as transaction:
            transaction.connection.execute("SELECT pg_advisory_xact_lock(hashtext('smarter_knowledge_schema'))")
            transaction.connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        self._register_vector(self._connection())

    # --- connections ---

    def _connection(self) -> psycopg.Connection[Any]:
        if os.getpid() != self._pid:
            self._local = threading.local()
            self._connections = []
            self._pid = os.getpid()
        connection: psycopg.Connection[Any] | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            connection = psycopg.connect(self.url, autocommit=True)
            if self._vector_dumper is not None:
                connection.adapters.register_dumper(_Vector, self._vector_dumper)
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        connection = self._connection()
        with connection.transaction():
            yield connection

    def _register_vector(self, connection: psycopg.Connection[Any]) -> None:
        info = TypeInfo.fetch(connection, "vector")
        if info is None:
            raise RuntimeError("the pgvector extension is not installed in the knowledge index database")
        self._vector_dumper = _vector_dumper(info.oid)
        connection.adapters.register_dumper(_Vector, self._vector_dumper)

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
        self._tables_listed = time.monotonic()
        return sorted(found)

    def _searchable_tables(self, connection: psycopg.Connection[Any]) -> list[int]:
        """The chunk tables a read looks in, listed again every TABLES_CACHE_SECONDS (a table of
        a new vector size is made once per embedding model; listing them took 0.4 ms a query).
        Deletes and counts list them every time."""
        if time.monotonic() - self._tables_listed < TABLES_CACHE_SECONDS:
            return sorted(self._tables)
        return self._existing_tables(connection)

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
            for chunk in chunks:
                self._size_classes.pop((chunk.account_id, chunk.knowledge_base_id), None)
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
                        _Vector(chunk.vector),
                    )
                    for chunk in group
                ]
                with connection.cursor() as cursor:
                    cursor.executemany(
                        f"INSERT INTO {table} (account_id, knowledge_base_id, document_id, position, "  # noqa: S608
                        "parent_position, text, parent_text, heading_path, page, embedding) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s) "
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
        self._size_classes.pop((account_id, knowledge_base_id), None)
        return self._delete(
            "account_id = %s AND knowledge_base_id = %s AND document_id = %s",
            (account_id, knowledge_base_id, document_id),
        )

    def delete_knowledge_base(self, *, account_id: int, knowledge_base_id: int) -> int:
        self._size_classes.pop((account_id, knowledge_base_id), None)
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

    def _searched_exactly(self, connection: psycopg.Connection[Any], table: str, owner: tuple[int, int]) -> bool:
        """Whether the knowledge base has at most EXACT_MAX_ROWS chunks, as counted at most
        SIZE_CACHE_SECONDS ago (or since this process last changed it)."""
        known = self._size_classes.get(owner)
        now = time.monotonic()
        if known is not None and now - known[1] < SIZE_CACHE_SECONDS:
            return known[0]
        row = connection.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE account_id = %s AND knowledge_base_id = %s "  # noqa: S608
            "LIMIT %s) AS owned",
            (*owner, EXACT_MAX_ROWS + 1),
        ).fetchone()
        exact = row is not None and int(row[0]) <= EXACT_MAX_ROWS
        self._size_classes[owner] = (exact, now)
        return exact

    def _nearest(
        self,
        connection: psycopg.Connection[Any],
        table: str,
        owner: tuple[int, int],
        vector: _Vector,
        k: int,
        *,
        exact: bool,
    ) -> list[Any]:
        """The k nearest rows of the knowledge base.

        The exact search goes through the b-tree on the owner (plain index scans off, so not
        HNSW); the approximate one through HNSW, which the planner is made to use: past an
        ef_search of about 150 its estimate makes a sequential scan look cheaper, and that scan
        reads every toasted vector of the table (about 45 ms at 10k rows). The settings are one
        statement of `set_config(..., true)` (SET LOCAL, with parameters). Sending the four
        statements as one pipeline measured slower here than four round trips on loopback."""
        owner_filter = "account_id = %s AND knowledge_base_id = %s"
        if exact:
            settings = {"enable_indexscan": "off"}
        else:
            # `+ 0` keeps the b-tree on the owner out of reach too: with statistics that say the
            # knowledge base is small (or none yet, as after a bulk load), the planner would
            # rather read all its rows through the b-tree and sort them.
            owner_filter = "account_id + 0 = %s AND knowledge_base_id + 0 = %s"
            settings = {
                "enable_seqscan": "off",
                "enable_bitmapscan": "off",
                "hnsw.iterative_scan": "relaxed_order",
                "hnsw.ef_search": str(max(MIN_EF_SEARCH, int(k))),
                "hnsw.max_scan_tuples": str(MAX_SCAN_TUPLES),
            }
        with connection.transaction():
            connection.execute(
                "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings),
                [value for setting in settings.items() for value in setting],
            )
            cursor = connection.execute(
                f"SELECT {_HIT_COLUMNS}, embedding <=> %s AS distance FROM {table} "  # noqa: S608
                f"WHERE {owner_filter} ORDER BY distance LIMIT %s",
                (vector, *owner, int(k)),
            )
        return cursor.fetchall()

    def dense(self, *, account_id: int, knowledge_base_id: int, vector: Sequence[float], k: int) -> list[Hit]:
        if k <= 0 or not vector:
            return []
        dimensions = len(vector)
        connection = self._connection()
        if dimensions not in self._tables and dimensions not in self._existing_tables(connection):
            return []
        table = _table(dimensions)
        owner = (int(account_id), int(knowledge_base_id))
        query = _Vector(vector)
        exact = self._searched_exactly(connection, table, owner)
        rows = self._nearest(connection, table, owner, query, k, exact=exact)
        if len(rows) < k and not exact:
            # Fewer than k rows from HNSW: the knowledge base shrank since it was counted, or the
            # iterative scan gave up (MAX_SCAN_TUPLES). The exact search answers for both.
            rows = self._nearest(connection, table, owner, query, k, exact=True)
        # "Relaxed" iterative scans may return rows slightly out of order.
        rows.sort(key=lambda row: (float(row[6]), row[0], row[1]))
        return [_hit(row, 1.0 - float(row[6])) for row in rows]

    def _common_lexemes(self, connection: psycopg.Connection[Any], table: str) -> dict[str, float]:
        """The lexemes in at least COMMON_SHARE of the table's chunks, with their shares, from
        the statistics ANALYZE keeps on `lexemes` (its most common elements), read again every
        COMMON_CACHE_SECONDS. Empty before the first ANALYZE and while the table is small."""
        known = self._common.get(table)
        now = time.monotonic()
        if known is not None and now - known[1] < COMMON_CACHE_SECONDS:
            return known[0]
        row = connection.execute(
            "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples "
            "FROM pg_stats AS s JOIN pg_class AS c ON c.relname = s.tablename "
            "AND c.relnamespace = to_regnamespace(s.schemaname) "
            "WHERE s.schemaname = current_schema() AND s.tablename = %s AND s.attname = 'lexemes'",
            (table,),
        ).fetchone()
        common: dict[str, float] = {}
        if row is not None and row[0] and row[1] and float(row[2]) >= COMMON_MIN_CHUNKS:
            common = {
                lexeme: float(share) for lexeme, share in zip(row[0], row[1], strict=False) if share >= COMMON_SHARE
            }
        self._common[table] = (common, now)
        return common

    def lexical(self, *, account_id: int, knowledge_base_id: int, query: str, k: int) -> list[Hit]:
        terms = query_terms(query)
        if k <= 0 or not terms:
            return []
        # The words are turned into lexemes by the server (its stemmer and stopwords), the common
        # ones dropped, and the rest joined by `|` (see _LEXICAL_SQL): any word may match.
        words = " ".join(terms)
        connection = self._connection()
        hits: list[Hit] = []
        for dimensions in self._searchable_tables(connection):
            table = _table(dimensions)
            common = self._common_lexemes(connection, table)
            rows = connection.execute(
                _LEXICAL_SQL.format(table=table, config=TEXT_SEARCH_CONFIG),
                {
                    "words": words,
                    "common": list(common),
                    "shares": list(common.values()),
                    "share": COMMON_SHARE,
                    "account": account_id,
                    "knowledge_base": knowledge_base_id,
                    "k": int(k),
                },
            ).fetchall()
            hits.extend(_hit(row, float(row[6])) for row in rows)
        hits.sort(key=lambda hit: -hit.score)
        return hits[:k]


# The lexical query. The question's lexemes (the `english` configuration stems them and drops its
# stopwords), without those in COMMON_SHARE or more of the chunks unless all are (then the rarest
# one). A chunk's score is its `ts_rank` (length-normalised, below 1) plus 1 when it holds two
# or more of those lexemes: a chunk with more of the question's words ranks first, as bm25's sum
# over words mostly does. So when k chunks hold two of the words, the top k are among them, and
# only those are ranked (`paired`, through the GIN index on pairs of words); otherwise every
# chunk holding any word is. Ranking every match was the whole cost of a query: 4,000 chunks
# took 8 ms at 100k. Lexemes are letters, digits and `_`, so quote_literal quotes them as a
# tsquery wants.
_LEXICAL_SQL = """
WITH common AS (
    SELECT * FROM unnest(%(common)s::text[], %(shares)s::real[]) AS common (lexeme, share)
), words AS (
    SELECT word.lexeme, coalesce(common.share, 0) AS share
    FROM unnest(to_tsvector('{config}', %(words)s)) AS word
    LEFT JOIN common USING (lexeme)
), kept AS (
    SELECT lexeme FROM words WHERE share < %(share)s
    UNION ALL
    (SELECT lexeme FROM words WHERE NOT EXISTS (SELECT FROM words WHERE share < %(share)s) ORDER BY share LIMIT 1)
), query AS (
    SELECT
        (SELECT string_agg(quote_literal(lexeme), ' | ') FROM kept)::tsquery AS any_word,
        (
            SELECT string_agg('(' || quote_literal(one.lexeme) || ' & ' || quote_literal(other.lexeme) || ')', ' | ')
            FROM kept AS one JOIN kept AS other ON one.lexeme < other.lexeme
        )::tsquery AS two_words
), paired AS MATERIALIZED (
    SELECT {columns}, 1 + ts_rank(lexemes, query.any_word, 1) AS score, id
    FROM {table}, query
    WHERE account_id = %(account)s AND knowledge_base_id = %(knowledge_base)s AND lexemes @@ query.two_words
    ORDER BY score DESC, id LIMIT %(k)s
)
SELECT * FROM paired WHERE (SELECT count(*) FROM paired) = %(k)s
UNION ALL
(
    SELECT {columns}, coalesce(lexemes @@ query.two_words, false)::int + ts_rank(lexemes, query.any_word, 1), id
    FROM {table}, query
    WHERE (SELECT count(*) FROM paired) < %(k)s
        AND account_id = %(account)s AND knowledge_base_id = %(knowledge_base)s AND lexemes @@ query.any_word
    ORDER BY 7 DESC, id LIMIT %(k)s
)
ORDER BY score DESC, id
""".replace("{columns}", _HIT_COLUMNS)
