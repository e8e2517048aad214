"""The client's own version, from the installed distribution."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "smarter-cli"


def client_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"
