"""How the local model runs: texts grouped by token count keep their order and their vectors,
bfloat16 only where the CPU has it, and one thread per CPU the process may really use."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from smarter.apps.knowledge import local_encoding
from smarter.apps.knowledge.embedding import LocalEmbedder, _local_model

AFFINITY = len(os.sched_getaffinity(0))


def texts_of_many_lengths() -> list[str]:
    words = [
        "the",
        "refund",
        "is",
        "paid",
        "within",
        "fourteen",
        "days",
        "of",
        "the",
        "returned",
        "parcel",
        "reaching",
        "our",
        "warehouse",
    ]
    return [" ".join(words[: 1 + (index * 7) % len(words)] * (1 + index % 5)) for index in range(2 * 16 + 5)]


def test_texts_grouped_by_token_count_come_back_in_their_order_with_their_own_vectors() -> None:
    texts = texts_of_many_lengths()

    together = np.array(LocalEmbedder().embed_documents(texts))
    alone = np.array([LocalEmbedder().embed_query(text) for text in texts])

    assert together.shape == (37, 384)
    assert (together * alone).sum(axis=1).min() > 0.9999


def test_the_token_count_is_the_models_own_truncated_at_its_maximum() -> None:
    model = _local_model()

    assert local_encoding.token_counts(model, ["money", "money back", "word " * 1000]) == [3, 4, 256]


def test_bfloat16_vectors_stay_within_a_ten_thousandth_of_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = texts_of_many_lengths()
    monkeypatch.setattr(local_encoding, "native_bfloat16", lambda: True)
    bfloat16 = local_encoding.encode(_local_model(), texts)
    monkeypatch.setattr(local_encoding, "native_bfloat16", lambda: False)
    float32 = local_encoding.encode(_local_model(), texts)

    assert (bfloat16 * float32).sum(axis=1).min() > 0.9999


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        ("fpu sse avx2 avx512f avx512_bf16 avx512_vnni", True),
        ("fpu sse avx2 amx_bf16 amx_tile amx_int8", True),
        ("fpu sse avx2 avx512f avx512bw avx512_vnni", False),
    ],
)
def test_bfloat16_is_used_only_where_the_cpu_has_it(tmp_path: Path, flags: str, native: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n")

    assert local_encoding.native_bfloat16(cpuinfo) is native


def test_an_unreadable_cpuinfo_means_float32(tmp_path: Path) -> None:
    assert local_encoding.native_bfloat16(tmp_path / "absent") is False


@pytest.mark.parametrize(
    ("cpu_max", "cpus"),
    [
        ("max 100000\n", AFFINITY),
        ("50000 100000\n", 1),
        ("1500000 100000\n", AFFINITY),
        (None, AFFINITY),
    ],
)
def test_threads_follow_the_cgroup_quota_and_the_affinity(tmp_path: Path, cpu_max: str | None, cpus: int) -> None:
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)

    assert local_encoding.available_cpus(path) == cpus


def test_the_model_uses_one_thread_per_available_cpu_unless_omp_num_threads_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    before: Any = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        assert local_encoding.use_available_cpus() == local_encoding.available_cpus()
        torch.set_num_threads(1)
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert local_encoding.use_available_cpus() == 1
    finally:
        torch.set_num_threads(before)
