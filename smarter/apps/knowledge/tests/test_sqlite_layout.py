"""The embedded index's own layout: cells for large knowledge bases, a lexical table per knowledge
base, and files of the earlier layout upgraded in place."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sqlean
import sqlite_vec

from smarter.apps.knowledge.index import cells
from smarter.apps.knowledge.index.sqlite_engine import SqliteKnowledgeIndex
from smarter.apps.knowledge.tests.index_chunks import chunk

ACME, GLOBEX = 8, 9
MANUAL, FAQ = 11, 12
DIMENSIONS = 16


def clustered(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, DIMENSIONS))
    vectors = centres[rng.integers(0, 20, count)] + 0.3 * rng.standard_normal((count, DIMENSIONS))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def add_vectors(engine: SqliteKnowledgeIndex, vectors: np.ndarray, *, start: int = 0, document: int = 1) -> None:
    for offset in range(0, len(vectors), 100):
        engine.add(
            [
                chunk(
                    account=ACME,
                    knowledge_base=MANUAL,
                    document=document,
                    position=start + offset + index,
                    text=f"chunk {start + offset + index}",
                    vector=vector.tolist(),
                )
                for index, vector in enumerate(vectors[offset : offset + 100])
            ]
        )


def read_file(path: Path, sql: str) -> list[tuple]:
    connection = sqlean.connect(str(path))
    connection.enable_load_extension(True)
    sqlite_vec.load(connection)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


@pytest.fixture
def small_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    # Split from 200 vectors instead of 4,096, so a test needs hundreds of vectors, not thousands.
    monkeypatch.setattr(cells, "TRAIN_FROM", 200)


def test_a_grown_knowledge_base_is_split_into_cells_and_each_stored_vector_still_comes_first(
    tmp_path: Path, small_cells: None
) -> None:
    engine = SqliteKnowledgeIndex(tmp_path / "index.sqlite3")
    try:
        vectors = clustered(600, seed=1)
        add_vectors(engine, vectors)

        for position in range(0, 600, 7):
            hits = engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=vectors[position].tolist(), k=5)
            assert hits[0].chunk == position
            assert len(hits) == 5
    finally:
        engine.close()
    # Split at 200 and again at 400 (doubled); 600 has not doubled 400.
    [(generation, centroid_bytes)] = read_file(
        tmp_path / "index.sqlite3", "SELECT generation, length(centroids) FROM vector_cells"
    )
    assert generation == 2
    assert centroid_bytes == cells.cell_count(400) * DIMENSIONS * 4
    [(used_cells,)] = read_file(tmp_path / "index.sqlite3", "SELECT COUNT(DISTINCT cell) FROM vectors_16")
    assert used_cells > cells.probe_count(cells.cell_count(400))  # a query reads only some of them


def test_a_search_finds_the_exact_neighbours_of_questions_near_the_stored_chunks(
    tmp_path: Path, small_cells: None
) -> None:
    engine = SqliteKnowledgeIndex(tmp_path / "index.sqlite3")
    try:
        stored = clustered(1000, seed=2)
        add_vectors(engine, stored)
        questions = clustered(1050, seed=2)[1000:]  # around the same centres, not stored
        found = 0
        for question in questions:
            exact = set(np.argsort(-(stored @ question))[:5].tolist())
            hits = engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=question.tolist(), k=5)
            found += len({hit.chunk for hit in hits} & exact)
        assert found / 250 >= 0.95
    finally:
        engine.close()


def test_a_process_holding_old_cells_reads_the_new_ones_after_another_splits_again(
    tmp_path: Path, small_cells: None
) -> None:
    web = SqliteKnowledgeIndex(tmp_path / "index.sqlite3")
    worker = SqliteKnowledgeIndex(tmp_path / "index.sqlite3")
    try:
        first = clustered(250, seed=3)
        add_vectors(worker, first)
        assert web.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=first[0].tolist(), k=1)[0].chunk == 0

        more = clustered(400, seed=4)
        add_vectors(worker, more, start=250)  # 650 >= 2 x 250: split again, every vector moves

        for position in range(0, 400, 9):
            hits = web.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=more[position].tolist(), k=1)
            assert hits[0].chunk == 250 + position
    finally:
        web.close()
        worker.close()


def test_word_weights_come_from_the_knowledge_base_alone(tmp_path: Path) -> None:
    engine = SqliteKnowledgeIndex(tmp_path / "index.sqlite3")
    try:
        texts = ["the quagga grazes", "a zebra runs", "zebra and quagga", "lions rest"]
        engine.add(
            [
                chunk(account=GLOBEX, knowledge_base=FAQ, document=1, position=index, text=text, vector=[1.0, 0.0])
                for index, text in enumerate(texts)
            ]
        )
        alone = engine.lexical(account_id=GLOBEX, knowledge_base_id=FAQ, query="zebra quagga", k=4)

        # Another tenant's knowledge base full of the same words changes nothing of Globex's ranking.
        engine.add(
            [
                chunk(
                    account=ACME,
                    knowledge_base=MANUAL,
                    document=1,
                    position=index,
                    text="zebra quagga",
                    vector=[0.0, 1.0],
                )
                for index in range(50)
            ]
        )
        beside = engine.lexical(account_id=GLOBEX, knowledge_base_id=FAQ, query="zebra quagga", k=4)

        assert [(hit.chunk, hit.score) for hit in beside] == [(hit.chunk, hit.score) for hit in alone]
        assert alone[0].chunk == 2
    finally:
        engine.close()


def test_deleting_a_knowledge_base_drops_its_lexical_table_and_cells(tmp_path: Path, small_cells: None) -> None:
    engine = SqliteKnowledgeIndex(tmp_path / "index.sqlite3")
    try:
        add_vectors(engine, clustered(250, seed=5))
        engine.add([chunk(account=ACME, knowledge_base=FAQ, document=2, position=0, text="kept", vector=[0.5] * 16)])

        assert engine.delete_knowledge_base(account_id=ACME, knowledge_base_id=MANUAL) == 250

        assert engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="chunk", k=5) == []
        assert engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=[0.5] * 16, k=5) == []
        assert [hit.text for hit in engine.lexical(account_id=ACME, knowledge_base_id=FAQ, query="kept", k=5)] == [
            "kept"
        ]
    finally:
        engine.close()
    tables = {row[0] for row in read_file(tmp_path / "index.sqlite3", "SELECT name FROM sqlite_master")}
    assert f"fts_a{ACME}_k{MANUAL}" not in tables
    assert f"fts_a{ACME}_k{FAQ}" in tables
    assert read_file(tmp_path / "index.sqlite3", "SELECT COUNT(*) FROM vector_cells") == [(0,)]


def write_earlier_layout(path: Path) -> None:
    """A file as the engine wrote it before cells and per-knowledge-base lexical tables."""
    connection = sqlean.connect(str(path))
    connection.enable_load_extension(True)
    sqlite_vec.load(connection)
    connection.executescript(
        """
        CREATE TABLE chunks (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL,
            knowledge_base_id INTEGER NOT NULL, document_id INTEGER NOT NULL, position INTEGER NOT NULL,
            parent_position INTEGER NOT NULL, dimensions INTEGER NOT NULL, text TEXT NOT NULL,
            parent_text TEXT NOT NULL, heading_path TEXT NOT NULL, page INTEGER);
        CREATE UNIQUE INDEX chunks_place ON chunks (account_id, knowledge_base_id, document_id, position);
        CREATE VIRTUAL TABLE chunks_fts USING fts5(text, scope, tokenize = 'porter unicode61 remove_diacritics 2');
        CREATE VIRTUAL TABLE vec_2 USING vec0(chunk_id INTEGER PRIMARY KEY, knowledge_base_id INTEGER PARTITION KEY,
            account_id INTEGER, embedding float[2] distance_metric=cosine);
        """
    )
    rows = [
        (1, ACME, MANUAL, "the zebra grazes", [1.0, 0.0]),
        (2, ACME, MANUAL, "penguins swim", [0.0, 1.0]),
        (3, GLOBEX, FAQ, "the zebra of globex", [1.0, 0.1]),
    ]
    for chunk_id, account, knowledge_base, text, vector in rows:
        connection.execute(
            "INSERT INTO chunks VALUES (?, ?, ?, 1, ?, ?, 2, ?, ?, ?, NULL)",
            (chunk_id, account, knowledge_base, chunk_id, chunk_id, text, text, json.dumps(["Manual"])),
        )
        connection.execute(
            "INSERT INTO vec_2 VALUES (?, ?, ?, ?)",
            (chunk_id, knowledge_base, account, sqlite_vec.serialize_float32(vector)),
        )
        connection.execute(
            "INSERT INTO chunks_fts (rowid, text, scope) VALUES (?, ?, ?)",
            (chunk_id, text, f"a{account}k{knowledge_base}"),
        )
    connection.commit()
    connection.close()


def test_a_file_of_the_earlier_layout_is_upgraded_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    write_earlier_layout(path)

    engine = SqliteKnowledgeIndex(path)
    try:
        dense = engine.dense(account_id=ACME, knowledge_base_id=MANUAL, vector=[1.0, 0.0], k=5)
        lexical = engine.lexical(account_id=ACME, knowledge_base_id=MANUAL, query="zebra", k=5)
        theirs = engine.lexical(account_id=GLOBEX, knowledge_base_id=FAQ, query="zebra", k=5)

        assert [(hit.chunk, hit.text, hit.heading_path) for hit in dense] == [
            (1, "the zebra grazes", ("Manual",)),
            (2, "penguins swim", ("Manual",)),
        ]
        assert [hit.text for hit in lexical] == ["the zebra grazes"]
        assert [hit.text for hit in theirs] == ["the zebra of globex"]
        assert engine.count(account_id=ACME, knowledge_base_id=MANUAL) == 2
    finally:
        engine.close()
    tables = {row[0] for row in read_file(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "chunks_fts" not in tables
    assert "vec_2" not in tables
    assert {f"fts_a{ACME}_k{MANUAL}", f"fts_a{GLOBEX}_k{FAQ}", "vectors_2"} <= tables
