"""The client's own version, from the installed distribution."""

from __future__ import annotations

from importlib import metadata


def client_version() -> str:
    try:
        return metadata.version("smarter")
    except metadata.PackageNotFoundError:
        return "unknown"
