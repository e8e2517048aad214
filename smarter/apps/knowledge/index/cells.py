"""Cells: an inverted-file partition of a knowledge base's vectors, so a dense query compares a
few hundredths of them instead of every one.

sqlite-vec has no approximate index: its k-nearest search compares the query with every vector
it is given, about 0.4 µs each here, so 40 ms at 100,000 chunks. Cells cut that down the way
IVF indexes do: the vectors are clustered (spherical k-means on a sample, about √n centroids),
each vector is kept in the cell of its nearest centroid, and a query searches only the cells of
the `probe_count` centroids nearest to it. A question is close to the chunks that answer it, and
those sit in the cells nearest to it; at 100,000 chunks 8 of 316 cells found the exact top five
in the benchmark (docs/performance.md).

Small knowledge bases are not split (`TRAIN_FROM`): one cell, an exact search, costs less than
choosing cells would. Centroids are re-trained when a knowledge base has doubled since they were
last trained, so cells stay balanced as documents arrive; between trainings a new vector joins
the cell of its nearest centroid.
"""

from __future__ import annotations

import math

import numpy as np

# A knowledge base is split into cells once it holds this many vectors of one size.
TRAIN_FROM = 4096
# ... and split again once it holds this many times as many as when it was last split.
RETRAIN_GROWTH = 2.0
# Centroids learn from at most this many vectors per cell (a sample; the rest only get assigned).
SAMPLE_PER_CELL = 64
KMEANS_ROUNDS = 12
# Cells searched per query: at least this many, more for very large knowledge bases.
MIN_PROBES = 12
PROBE_SHARE = 1 / 40
_SEED = 20_260_101


def cell_count(vectors: int) -> int:
    """About √n cells: each then holds about √n vectors, so choosing cells and searching them
    cost about the same."""
    return max(16, round(math.sqrt(vectors)))


def probe_count(cells: int) -> int:
    return min(cells, max(MIN_PROBES, math.ceil(cells * PROBE_SHARE)))


def needs_training(vectors: int, trained_at: int) -> bool:
    """Whether a knowledge base of `vectors` vectors, split when it had `trained_at` (0: never),
    should be split (again) now."""
    if trained_at == 0:
        return vectors >= TRAIN_FROM
    return vectors >= RETRAIN_GROWTH * trained_at


def _normalised(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def train_centroids(vectors: np.ndarray, cells: int) -> np.ndarray:
    """`cells` unit centroids of `vectors` (rows) by spherical k-means on a sample, seeded so that
    the same vectors give the same cells. An emptied cell is re-seeded on the vector its centroid
    explains worst, so no cell stays empty while others are crowded."""
    rng = np.random.default_rng(_SEED)
    data = _normalised(np.asarray(vectors, dtype=np.float32))
    cells = min(cells, len(data))
    if len(data) > cells * SAMPLE_PER_CELL:
        data = data[rng.choice(len(data), cells * SAMPLE_PER_CELL, replace=False)]
    centroids = data[rng.choice(len(data), cells, replace=False)].copy()
    for _ in range(KMEANS_ROUNDS):
        similarity = data @ centroids.T
        assigned = np.argmax(similarity, axis=1)
        best = similarity[np.arange(len(data)), assigned]
        sums = np.zeros_like(centroids)
        np.add.at(sums, assigned, data)
        sizes = np.bincount(assigned, minlength=cells)
        empty = np.flatnonzero(sizes == 0)
        if len(empty):
            worst = np.argsort(best)[: len(empty)]
            sums[empty] = data[worst]
        centroids = _normalised(sums)
    return centroids.astype(np.float32)


def nearest_cells(centroids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """The cell of each row of `vectors`: its most similar centroid."""
    return np.argmax(np.asarray(vectors, dtype=np.float32) @ centroids.T, axis=1)


def cells_to_search(centroids: np.ndarray, query: np.ndarray) -> list[int]:
    """The cells a query searches: those of its `probe_count` most similar centroids."""
    similarity = centroids @ np.asarray(query, dtype=np.float32)
    probes = probe_count(len(centroids))
    if probes >= len(centroids):
        return list(range(len(centroids)))
    nearest = np.argpartition(-similarity, probes - 1)[:probes]
    return sorted(int(cell) for cell in nearest)
