"""The local model tests need a real llama.cpp server (`.ci/local-model` starts one and names it
in SMARTER_LOCAL_MODEL_URL). Without it they are not collected at all: the normal run neither runs
nor skips them, since CI turns a skip into a failure."""

from __future__ import annotations

import os

collect_ignore = [] if os.environ.get("SMARTER_LOCAL_MODEL_URL") else ["test_local_model.py"]
