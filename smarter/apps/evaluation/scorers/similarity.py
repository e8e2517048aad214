"""The `similarity` scorer: the cosine similarity of the answer's and the expected answer's
embeddings, with the knowledge bases' embedding models (the local model unless the suite names
a Provider's). Negative similarities count as 0. The local model is deterministic on a machine,
so a re-run scores the same."""

from __future__ import annotations

import math
from typing import Any

from smarter.apps.evaluation.records import CaseAnswer, CaseExpectation, Score
from smarter.apps.knowledge.embedding import embedder_for


def similarity(
    answer: CaseAnswer, expectation: CaseExpectation, *, account_id: int, embedding: dict[str, Any]
) -> Score:
    first, second = embedder_for(account_id=account_id, embedding=dict(embedding)).embed_documents(
        [answer.text, expectation.expected or ""]
    )
    norms = math.sqrt(sum(value * value for value in first)) * math.sqrt(sum(value * value for value in second))
    cosine = sum(a * b for a, b in zip(first, second, strict=True)) / norms if norms else 0.0
    return Score("similarity", round(min(1.0, max(0.0, cosine)), 6))
