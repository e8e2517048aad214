"""A web process does not load what only a run needs: the overlap scorers' libraries (sacrebleu,
rouge-score and nltk, over 100 MiB together) and torch are imported on first use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarter.settings")
import django
django.setup()
from django.urls import resolve
resolve("/api/v1/evals/suite/runs/")  # the evaluation API's views are imported too
print(json.dumps(sorted(name for name in ("sacrebleu", "rouge_score", "nltk", "torch") if name in sys.modules)))
"""


def test_starting_the_platform_imports_no_scorer_library_nor_torch() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=dict(os.environ), timeout=120
    )

    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
