"""SQL for the chat turn's hot path, built once per model from its metadata.

Compiling an ORM query costs several times what running it costs on a nearby database (about
0.5 to 1 ms against 0.1 ms), and a turn runs several. These helpers build each statement once
(columns, table and placeholders from the model's `_meta`) and turn rows into model instances the
way the ORM's compiler does: the same driver-value converters (booleans, JSON, aware datetimes)
and `Model.from_db`.

Inserts take plain values by attribute name (`chat_id`, not `chat`), not model instances: a turn
writes several rows, and building an instance and asking each of its fields for its database
value cost more than the INSERT itself. A field left out gets its default, and `auto_now` and
`auto_now_add` fields the current time, as `save()` would give them. Values of the types a
driver binds as they are (str, int, float, bool, None) go straight to plain text and number
columns; every other value goes through the field's own `get_db_prep_save` (JSON, datetimes,
decimals, IP addresses).

Only identifiers from model metadata are ever interpolated into SQL; values are bound parameters.
`save()`, its signals and database defaults are bypassed, so a model written here must have
none of them: `write_hazards` names what it has, the first insert of a model refuses one that
has any, and the tests check every model a turn writes this way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import NOT_PROVIDED, Field, Model, signals
from django.utils import timezone

M = TypeVar("M", bound=Model)


def _database() -> BaseDatabaseWrapper:
    # The connection itself: every attribute read through `django.db.connection` (a proxy to
    # this thread's connection) costs a lookup, and a row reads it once per column.
    return connections[DEFAULT_DB_ALIAS]


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


@functools.cache
def columns(model: type[Model], alias: str) -> str:
    """The model's concrete columns, qualified by `alias`, in `_meta.concrete_fields` order."""
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


@functools.cache
def _converters(model: type[Model]) -> tuple[tuple[int, Field[Any, Any], tuple[Any, ...]], ...]:
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if converters:
            found.append((index, field, tuple(converters)))
    return tuple(found)


@functools.cache
def _attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


def width(model: type[Model]) -> int:
    return len(model._meta.concrete_fields)


@functools.cache
def named_columns(model: type[Model], alias: str) -> str:
    """The model's concrete columns qualified by `alias`, each named `<alias>.<column>` in the
    result, so that a row of several models is read by name (`hydrate_named`), not by position."""
    return ", ".join(
        f"{alias}.{quote(field.column)} AS {quote(f'{alias}.{field.column}')}" for field in model._meta.concrete_fields
    )


@functools.cache
def _named(model: type[Model], alias: str) -> tuple[str, ...]:
    return tuple(f"{alias}.{field.column}" for field in model._meta.concrete_fields)


class NamedRows:
    """The fetched rows of an executed statement, read by column name: `hydrate_named` takes a
    model's columns by their names, `value` one column. Where each name is in a row is worked out
    once per statement shape (its column names, in order), not once per row."""

    def __init__(self, cursor: Any) -> None:
        self.names = tuple(column[0] for column in cursor.description)
        self.rows: list[Sequence[Any]] = list(cursor.fetchall())

    def value(self, row: Sequence[Any], name: str) -> Any:
        return row[_positions(self.names)[name]]

    def hydrate_named(self, model: type[M], row: Sequence[Any], alias: str) -> M:
        """An instance from the columns `named_columns(model, alias)` put in the statement. A
        column missing from it is a KeyError, never a value read from the wrong place."""
        return hydrate(model, _picker(self.names, model, alias)(row))


@functools.cache
def _positions(names: tuple[str, ...]) -> dict[str, int]:
    return {name: index for index, name in enumerate(names)}


@functools.cache
def _picker(names: tuple[str, ...], model: type[Model], alias: str) -> Callable[[Sequence[Any]], list[Any]]:
    positions = _positions(names)
    indices = [positions[name] for name in _named(model, alias)]
    return lambda row: [row[index] for index in indices]


def hydrate(model: type[M], values: Sequence[Any], database: BaseDatabaseWrapper | None = None) -> M:
    """An instance from the columns of `columns(model, ...)`, as the ORM would build it."""
    database = database or _database()
    converted = list(values)
    for index, field, converters in _converters(model):
        for converter in converters:
            converted[index] = converter(converted[index], field, database)
    return model.from_db(database.alias, list(_attnames(model)), converted)


@functools.cache
def _select_by(model: type[Model], names: tuple[str, ...], sizes: tuple[int, ...]) -> str:
    conditions = []
    for name, size in zip(names, sizes, strict=True):
        column = quote(getattr(model._meta.get_field(name), "column", None) or name)
        if size < 0:
            conditions.append(f"t.{column} = %s")
        else:
            conditions.append(f"t.{column} IN ({', '.join(['%s'] * size)})")
    table = quote(model._meta.db_table)
    return f"SELECT {columns(model, 't')} FROM {table} t WHERE {' AND '.join(conditions)}"  # noqa: S608


def fetch_by(model: type[M], **conditions: Any) -> list[M]:
    """Rows where every column equals its value (a tuple or list value means IN)."""
    names = tuple(sorted(conditions))
    sizes = tuple(len(v) if isinstance(v, (tuple, list)) else -1 for v in (conditions[n] for n in names))
    params: list[Any] = []
    for name in names:
        value = conditions[name]
        params.extend(value if isinstance(value, (tuple, list)) else [value])
    return fetch(model, _select_by(model, names, sizes), params)


def fetch(model: type[M], sql: str, params: Sequence[Any]) -> list[M]:
    """Instances from a statement whose first columns are `columns(model, ...)`."""
    database = _database()
    with database.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    size = width(model)
    return [hydrate(model, row[:size], database) for row in rows]


# --- inserts --------------------------------------------------------------------------------------

# Django's own field classes whose database value is the Python value itself, for a value of a
# type the drivers bind directly (exact types: a str or int subclass, such as an enum, is converted).
_PLAIN_FIELDS = (models.CharField, models.TextField, models.IntegerField, models.FloatField, models.BooleanField)
_PLAIN_VALUES = frozenset({str, int, float, bool, type(None)})


def _passes_through(field: Field[Any, Any]) -> bool:
    if isinstance(field, models.ForeignKey):
        return _passes_through(field.target_field)
    return isinstance(field, _PLAIN_FIELDS) and type(field).__module__.startswith("django.db.models.")


class _Column:
    """How one field's value is found (given, defaulted, or the time of the insert) and converted."""

    __slots__ = ("attname", "default", "field", "plain", "stamped")

    def __init__(self, field: Field[Any, Any]) -> None:
        self.attname = field.attname
        self.field = field
        self.plain = _passes_through(field)
        # `auto_now` and `auto_now_add` take the time of the insert whatever was given, as in `save()`.
        self.stamped = bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))
        self.default: Callable[[], Any] = field.get_default


def write_hazards(model: type[Model]) -> list[str]:
    """What a prepared insert of `model` would bypass: a `save()` of its own, receivers of its
    `pre_save` or `post_save` signal, and database defaults (a column left out here gets the
    field's Python default, never the database's)."""
    found = []
    if model.save is not Model.save:
        found.append("it overrides save()")
    for signal, name in ((signals.pre_save, "pre_save"), (signals.post_save, "post_save")):
        if signal.has_listeners(model):
            found.append(f"a {name} receiver listens to it")
    defaulted = [
        field.name
        for field in model._meta.concrete_fields
        if getattr(field, "db_default", NOT_PROVIDED) is not NOT_PROVIDED
    ]
    if defaulted:
        found.append(f"db_default on {', '.join(defaulted)}")
    return found


@functools.cache
def _insert_columns(model: type[Model]) -> tuple[_Column, ...]:
    hazards = write_hazards(model)
    if hazards:
        raise ImproperlyConfigured(f"{model.__name__} cannot be written by a prepared insert: {'; '.join(hazards)}")
    # The database numbers the primary key; every other concrete column is written.
    return tuple(_Column(field) for field in model._meta.concrete_fields if not getattr(field, "db_returning", False))


@functools.cache
def _insert_sql(model: type[Model], rows: int, returning: bool) -> tuple[str, tuple[Any, ...]]:
    fields = _insert_columns(model)
    row = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c.field.column) for c in fields)}) "  # noqa: S608
        f"VALUES {', '.join([row] * rows)}"
    )
    params: tuple[Any, ...] = ()
    if returning:
        returning_sql, returning_params = connection.ops.return_insert_columns([model._meta.pk])
        sql, params = f"{sql} {returning_sql}", tuple(returning_params)
    return sql, params


@functools.cache
def _insert_attnames(model: type[Model]) -> frozenset[str]:
    return frozenset(column.attname for column in _insert_columns(model))


def _row(model: type[Model], values: Mapping[str, Any], database: BaseDatabaseWrapper, now: Any) -> list[Any]:
    if not values.keys() <= _insert_attnames(model):
        # A misspelt or relation name (`chat` for `chat_id`) would otherwise be dropped silently.
        unknown = sorted(set(values) - _insert_attnames(model))
        raise ValueError(f"{model.__name__} has no column for {unknown}")
    row = []
    for column in _insert_columns(model):
        if column.stamped:
            value = now
        elif column.attname in values:
            value = values[column.attname]
        else:
            value = column.default()
        if not (column.plain and type(value) in _PLAIN_VALUES):
            value = column.field.get_db_prep_save(value, connection=database)
        row.append(value)
    return row


def insert(model: type[Model], values: Mapping[str, Any]) -> int:
    """INSERT one row from `values` (by attribute name); returns its primary key."""
    database = _database()
    # MySQL and SQLite report the new key with the statement's result; others need RETURNING.
    returning = database.vendor not in ("mysql", "sqlite")
    sql, extra = _insert_sql(model, 1, returning)
    with database.cursor() as cursor:
        cursor.execute(sql, [*_row(model, values, database, timezone.now()), *extra])
        if returning:
            return int(cursor.fetchone()[0])
        return int(database.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column))


# One statement's bounds: well under MySQL's default max_allowed_packet (16 MiB, 4 MiB on older
# servers) and SQLite's limit on bound parameters.
MAX_ROWS_PER_STATEMENT = 500
MAX_TEXT_PER_STATEMENT = 2 * 1024 * 1024


def insert_many(model: type[Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT rows of one model in as few statements as their size allows; primary keys are not
    read back."""
    if not rows:
        return
    database = _database()
    now = timezone.now()
    batch: list[list[Any]] = []
    text = 0
    for values in rows:
        row = _row(model, values, database, now)
        size = sum(len(value) for value in row if isinstance(value, str))
        if batch and (len(batch) == MAX_ROWS_PER_STATEMENT or text + size > MAX_TEXT_PER_STATEMENT):
            _insert_rows(database, model, batch)
            batch, text = [], 0
        batch.append(row)
        text += size
    _insert_rows(database, model, batch)


def _insert_rows(database: BaseDatabaseWrapper, model: type[Model], rows: list[list[Any]]) -> None:
    sql, _ = _insert_sql(model, len(rows), False)
    with database.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])
