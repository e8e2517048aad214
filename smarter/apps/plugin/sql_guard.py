"""The guard on a SQL plugin's query, and how its `{param}` placeholders become bound parameters.

A query is accepted only if sqlglot parses it, in the connection's dialect, as exactly one
read-only SELECT (or WITH ... SELECT, or a UNION/INTERSECT/EXCEPT of selects) with no INTO, no
locking clause, no side-effecting or stalling function and no comment at all: comments are where
parsers disagree (MySQL runs `/*! ... */`), so refusing them removes that doubt. Anything that does
not parse is refused (fail closed).

Placeholders are checked by the same parser: each `{param}` is swapped for a sentinel column name
and must come back as exactly one bare, unquoted column. One inside a string literal or a quoted
identifier is refused, because the driver's quoting would then end up inside someone else's quotes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
_SENTINEL = "smarter_param_{index}_sentinel"
DIALECTS = {"mysql": "mysql", "postgresql": "postgres", "sqlite": "sqlite"}

# Functions that read files, sleep, take locks, touch sequences or load code: never in a tool query.
FORBIDDEN_FUNCTIONS = frozenset(
    {
        "SLEEP",
        "BENCHMARK",
        "LOAD_FILE",
        "GET_LOCK",
        "RELEASE_LOCK",
        "RELEASE_ALL_LOCKS",
        "IS_FREE_LOCK",
        "IS_USED_LOCK",
        "MASTER_POS_WAIT",
        "SOURCE_POS_WAIT",
        "WAIT_FOR_EXECUTED_GTID_SET",
        "WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS",
        "PG_SLEEP",
        "PG_SLEEP_FOR",
        "PG_SLEEP_UNTIL",
        "PG_READ_FILE",
        "PG_READ_BINARY_FILE",
        "PG_LS_DIR",
        "PG_STAT_FILE",
        "PG_TERMINATE_BACKEND",
        "PG_CANCEL_BACKEND",
        "PG_RELOAD_CONF",
        "PG_ROTATE_LOGFILE",
        "LO_IMPORT",
        "LO_EXPORT",
        "LO_GET",
        "DBLINK",
        "DBLINK_EXEC",
        "SET_CONFIG",
        "NEXTVAL",
        "SETVAL",
        "QUERY_TO_XML",
        "LOAD_EXTENSION",
        "READFILE",
        "WRITEFILE",
        "FTS3_TOKENIZER",
        "ZEROBLOB",
        "RANDOMBLOB",
        "SYS_EXEC",
        "SYS_EVAL",
    }
)
_FORBIDDEN_PREFIXES = ("PG_ADVISORY", "PG_TRY_ADVISORY")

_ALLOWED_ROOTS: tuple[type[exp.Expression], ...] = (exp.Select, exp.Union, exp.Intersect, exp.Except)
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = tuple(
    node
    for node in (
        getattr(exp, name, None)
        for name in (
            "Into",
            "Lock",
            "Insert",
            "Update",
            "Delete",
            "Merge",
            "Create",
            "Drop",
            "Alter",
            "Command",
            "TruncateTable",
            "Set",
            "Pragma",
            "Use",
            "Transaction",
            "Commit",
            "Rollback",
            "LoadData",
            "Copy",
            "Grant",
            "Revoke",
            "Cache",
            "Uncache",
            "Refresh",
        )
    )
    if isinstance(node, type)
)


class UnsafeQuery(ValueError):
    """The query may not run; the message names the problem for the person who wrote it."""


@dataclass(frozen=True)
class BoundQuery:
    """Driver-ready SQL text and the parameter names its placeholders stand for, in order."""

    text: str
    names: tuple[str, ...]
    original: str
    marker: str = "%s"

    @property
    def display(self) -> str:
        """The statement as a person reads it: the driver's markers, without %-escaping."""
        return PLACEHOLDER.sub(self.marker, self.original) if self.names else self.original


def placeholder_names(sql: str) -> list[str]:
    return PLACEHOLDER.findall(sql)


def _function_name(node: Any) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).upper()
    if isinstance(node, exp.Func):
        return node.sql_name().upper()
    return ""


def check_query(sql: str, *, engine: str, parameter_names: set[str]) -> None:
    """Raise UnsafeQuery unless `sql` is one read-only SELECT whose placeholders are all parameters."""
    problem = _problem(sql, engine, frozenset(parameter_names))
    if problem is not None:
        raise UnsafeQuery(problem)


@functools.lru_cache(maxsize=4096)
def _problem(sql: str, engine: str, parameter_names: frozenset[str]) -> str | None:
    # The verdict depends on these three values only, so each query is parsed once per process
    # (apply checks it, and every execution checks it again).
    try:
        _check(sql, engine=engine, parameter_names=parameter_names)
    except UnsafeQuery as error:
        return str(error)
    return None


def _check(sql: str, *, engine: str, parameter_names: frozenset[str]) -> None:
    dialect = DIALECTS.get(engine, "mysql")
    occurrences = placeholder_names(sql)
    unknown = sorted({name for name in occurrences if name not in parameter_names})
    if unknown:
        listed = ", ".join("{" + name + "}" for name in unknown)
        raise UnsafeQuery(f"{listed} {'is' if len(unknown) == 1 else 'are'} not declared in parameters")
    counter = iter(range(len(occurrences)))
    probe = PLACEHOLDER.sub(lambda _: _SENTINEL.format(index=next(counter)), sql)
    try:
        tokens = sqlglot.tokenize(probe, read=dialect)
        if any(token.comments for token in tokens) or "/*" in probe:
            raise UnsafeQuery("comments are not allowed in sqlQuery; describe the query in description")
        statements = [statement for statement in sqlglot.parse(probe, read=dialect) if statement is not None]
    except (ParseError, TokenError) as error:
        first_line = str(error).splitlines()[0] if str(error) else "syntax error"
        raise UnsafeQuery(f"the query could not be parsed as {dialect} SQL ({first_line})") from None
    if len(statements) != 1:
        raise UnsafeQuery(f"exactly one statement is allowed; found {len(statements)}")
    statement = statements[0]
    if not isinstance(statement, _ALLOWED_ROOTS):
        raise UnsafeQuery(f"only SELECT queries are allowed, not {statement.key.upper()}")
    sentinels_found = 0
    for node in statement.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            label = {"into": "INTO", "lock": "a locking clause (FOR UPDATE / FOR SHARE)"}.get(
                node.key, node.key.upper()
            )
            raise UnsafeQuery(f"{label} is not allowed in a read-only query")
        name = _function_name(node)
        if name and (name in FORBIDDEN_FUNCTIONS or name.startswith(_FORBIDDEN_PREFIXES)):
            raise UnsafeQuery(f"function {name} is not allowed")
        if isinstance(node, exp.Column) and node.name.startswith("smarter_param_"):
            identifier = node.this
            if node.table or (isinstance(identifier, exp.Identifier) and identifier.quoted):
                raise UnsafeQuery("a {placeholder} may not be quoted or qualified; write it bare")
            sentinels_found += 1
    if sentinels_found != len(occurrences):
        raise UnsafeQuery("a {placeholder} may not appear inside a string; write it bare, the value is bound")


def bind(sql: str, *, engine: str) -> BoundQuery:
    """Turn `{param}` into the driver's placeholder; call only on a query check_query accepted."""
    names: list[str] = []
    pieces = PLACEHOLDER.split(sql)
    marker = "?" if engine == "sqlite" else "%s"
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2 == 1:
            names.append(piece)
            out.append(marker)
        else:
            # MySQLdb and psycopg interpolate with %-formatting: a literal % must be doubled.
            out.append(piece if engine == "sqlite" else piece.replace("%", "%%"))
    return BoundQuery(text="".join(out), names=tuple(names), original=sql, marker=marker)
