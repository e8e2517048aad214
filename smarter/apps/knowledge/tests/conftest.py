"""Every knowledge test keeps its documents and its embedded index in a folder of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def knowledge_dir(smarter_settings: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    smarter_settings.knowledge_dir = folder
    return folder
