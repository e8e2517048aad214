"""Where a tenant's SQLite plugin databases live: one folder per account, and nothing outside it.

A SqlConnection's `database` (engine `sqlite`) names a file relative to its own account's folder,
`<SMARTER_PLUGIN_DATA_DIR>/<account number>/`. Every way out of that folder is refused with the
same sentence, which never says whether the file exists: `..`, an absolute path, a `file:` URI and
its `?mode=` parameters, percent-encoding, backslashes, a NUL byte, a symbolic link that resolves
elsewhere, another account's folder, the platform's own database. The name is checked as text
first (letters, digits, `.`, `_`, `-` and `/` between folders, no segment starting with a dot),
then resolved, links followed, and must still be inside the folder. No message carries a server
path: the tenant only ever sees the name it gave.
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from smarter.apps.account.models import ACCOUNT_NUMBER_PATTERN
from smarter.apps.plugin.models import SqlConnection

# One folder or file name: no leading dot, so neither `.`, `..` nor a hidden file can be named.
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
MAX_DEPTH = 8

REFUSED = (
    "must name a file in your account's plugin data folder: a relative path such as courses.sqlite3 "
    "or sales/2024.sqlite3, made of letters, digits, '.', '_', '-' and '/' between folders"
)


class DatabaseFileRefused(ValueError):
    """The name leads outside the account's folder (or could): always the same message."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


def plugin_data_root() -> Path:
    return Path(settings.SMARTER.effective_plugin_data_dir).resolve()


def account_folder(account_number: str) -> Path:
    """The account's own folder (it need not exist yet)."""
    if not re.fullmatch(ACCOUNT_NUMBER_PATTERN, account_number):
        raise ValueError(f"not an account number: {account_number!r}")
    return plugin_data_root() / account_number


def name_is_allowed(database: str) -> bool:
    segments = database.split("/")
    return len(segments) <= MAX_DEPTH and all(_SEGMENT.fullmatch(segment) for segment in segments)


def database_file(database: str, *, account_number: str) -> Path:
    """The resolved path of `database` inside the account's folder, or DatabaseFileRefused."""
    if not name_is_allowed(database):
        raise DatabaseFileRefused
    # The folder itself may be a link the operator made (a volume per account): follow it first,
    # then everything the name leads to must stay inside wherever it points.
    folder = account_folder(account_number).resolve()
    path = (folder / database).resolve()
    if not path.is_relative_to(folder) or path == folder or _is_platform_database(path):
        raise DatabaseFileRefused
    return path


def _is_platform_database(path: Path) -> bool:
    own = settings.DATABASES["default"]
    if not str(own.get("ENGINE", "")).endswith("sqlite3"):
        return False
    name = str(own.get("NAME", ""))
    return bool(name) and not name.startswith(("file:", ":memory:")) and Path(name).resolve() == path


# --- upgrading from the shared folder -------------------------------------------------------------
# Before folders per account, every SQLite file sat in the plugin data folder itself, shared by all
# accounts. `move_plugin_data` moves each into the folder of the one account that uses it.
_SIDECARS = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class LegacyFile:
    """What became (or would become) of one SQLite connection's file."""

    account_number: str
    connection: str
    database: str
    outcome: str


def legacy_files_move(*, dry_run: bool = False) -> list[LegacyFile]:
    """Move each SQLite connection's file from the shared plugin data folder into its account's
    folder, when exactly one account uses it; anything else is left where it is and said why."""
    root = plugin_data_root()
    connections = list(SqlConnection.objects.filter(db_engine="sqlite").select_related("account"))
    users: dict[Path, set[int]] = defaultdict(set)
    for connection in connections:
        if name_is_allowed(connection.database):
            users[(root / connection.database).resolve()].add(connection.account_id)
    report = []
    for connection in sorted(connections, key=lambda c: (c.account.account_number, c.name)):
        outcome = _move_one(root, connection.database, connection.account.account_number, users, dry_run)
        report.append(LegacyFile(connection.account.account_number, connection.name, connection.database, outcome))
    return report


def _move_one(root: Path, database: str, account_number: str, users: dict[Path, set[int]], dry_run: bool) -> str:
    if not name_is_allowed(database):
        return f"left alone: the name is no longer allowed, it {REFUSED}"
    try:
        target = database_file(database, account_number=account_number)
    except DatabaseFileRefused:
        return f"left alone: it {REFUSED}"
    if target.is_file():
        return "already in its account's folder"
    legacy = (root / database).resolve()
    inside = legacy.is_relative_to(root) and legacy != root
    if not inside or re.fullmatch(ACCOUNT_NUMBER_PATTERN, legacy.relative_to(root).parts[0]):
        return "left alone: not a file of the shared folder"
    if not legacy.is_file():
        return "not found in the shared folder either"
    if len(users[legacy]) > 1:
        return f"left alone: {len(users[legacy])} accounts use this file; copy it for the one that owns it"
    if dry_run:
        return "would be moved"
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", *_SIDECARS):
        companion = legacy.with_name(legacy.name + suffix)
        if companion.exists():
            shutil.move(companion, target.with_name(target.name + suffix))
    return "moved"
