"""How the local model encodes texts fast on a few CPU cores, without changing what it says.

Measured on two cores (benchmarks/knowledge.py, chunks of 100 words, about 165 tokens):

- **Batches of texts of about the same token count.** sentence-transformers groups texts by
  their length in characters, which follows the token count loosely (code and names cut into
  many tokens): batches of 64 grouped so were padded to 1.43 times their real tokens; grouped
  by token count, batches of 16 are padded to 1.02 times. Padding is work thrown away (and
  attention grows with its square). The vectors are the same.
- **bfloat16 matrix products where the CPU has them natively** (AVX512-BF16 or AMX): about
  1.7 times the chunks per CPU-second of float32. Under autocast only the matrix products run in
  bfloat16 (accumulating in float32); layer norms, softmax and pooling stay float32, so a vector
  keeps a cosine of at least 0.9999 with its float32 twin and indexes built before still match.
  A CPU without them would emulate bfloat16, slower than float32: it keeps float32.
- **One intra-op thread per CPU this process may use**, counted from its affinity and its
  cgroup's CPU quota: torch counts the host's cores, which in a container limited to two CPUs
  of a large node means dozens of threads fighting for two.

int8 dynamic quantization was measured and refused: its vectors kept a cosine of only 0.87 to
0.95 with float32 ones, which changes rankings and would orphan existing indexes.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Texts per forward pass once grouped by token count: the fastest measured (8 to 64) on two
# cores; larger batches pad more and gain nothing, the matrices being large already.
LOCAL_BATCH = 16
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CPUINFO = Path("/proc/cpuinfo")


def available_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The CPUs this process may run on: its affinity, capped by a cgroup v2 quota if any."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return max(1, cpus)
    if quota == "max":
        return max(1, cpus)
    return max(1, min(cpus, math.ceil(int(quota) / int(period))))


def use_available_cpus() -> int:
    """Size torch's intra-op thread pool to the CPUs available (unless OMP_NUM_THREADS says)."""
    import torch

    if not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(available_cpus())
    return int(torch.get_num_threads())


@functools.cache
def native_bfloat16(cpuinfo: Path = CPUINFO) -> bool:
    """Whether the CPU multiplies bfloat16 matrices in hardware (x86 AVX512-BF16 or AMX)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


@contextlib.contextmanager
def _precision() -> Iterator[None]:
    if native_bfloat16():
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield
    else:
        yield


def token_counts(model: Any, texts: list[str]) -> list[int]:
    """Tokens of each text as the model will see it (truncated at its maximum length)."""
    encoded = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length, return_length=True)
    return [int(length) for length in encoded["length"]]


def encode(model: Any, texts: list[str]) -> Any:
    """Unit vectors of `texts`, in their order (a float32 numpy array, one row per text)."""
    import numpy as np

    order = list(range(len(texts)))
    if len(texts) > LOCAL_BATCH:
        counts = token_counts(model, texts)
        order.sort(key=lambda index: -counts[index])
    vectors: Any = None
    with _precision():
        for start in range(0, len(order), LOCAL_BATCH):
            batch = order[start : start + LOCAL_BATCH]
            encoded = model.encode(
                [texts[index] for index in batch],
                batch_size=LOCAL_BATCH,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if vectors is None:
                vectors = np.empty((len(texts), encoded.shape[1]), dtype=np.float32)
            vectors[batch] = encoded
    return vectors
