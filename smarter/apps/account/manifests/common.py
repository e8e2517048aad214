"""Helpers the account kinds share."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


def iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def metadata_of(name: str, description: str = "", version: str = "0.1.0") -> dict[str, Any]:
    return {"name": name, "description": description, "version": version, "tags": [], "annotations": []}
