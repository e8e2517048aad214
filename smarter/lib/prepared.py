"""SQL for the chat turn's hot path, built once per model from its metadata.

Compiling an ORM query costs several times what running it costs on a nearby database (about
0.5 to 1 ms against 0.1 ms), and a turn runs about a dozen. These helpers build each statement
once (columns, table and placeholders from the model's `_meta`) and turn rows into model
instances the way the ORM's compiler does: the same driver-value converters (booleans, JSON,
aware datetimes) and `Model.from_db`. Inserts go through each field's `pre_save` and
`get_db_prep_save`, so defaults, `auto_now_add` and JSON encoding behave as with `save()`.

Only identifiers from model metadata are ever interpolated into SQL; values are bound parameters.
Model signals do not fire: use these only for models nothing listens to.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)


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


def hydrate(model: type[M], values: Sequence[Any]) -> M:
    """An instance from the columns of `columns(model, ...)`, as the ORM would build it."""
    converted = list(values)
    for index, field, converters in _converters(model):
        for converter in converters:
            converted[index] = converter(converted[index], field, connection)
    return model.from_db(connection.alias, list(_attnames(model)), converted)


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
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    size = width(model)
    return [hydrate(model, row[:size]) for row in rows]


# --- inserts --------------------------------------------------------------------------------------


@functools.cache
def _insert_fields(model: type[Model]) -> tuple[Field[Any, Any], ...]:
    # The database numbers the primary key; every other concrete column is written.
    return tuple(field for field in model._meta.concrete_fields if not getattr(field, "db_returning", False))


@functools.cache
def _insert_sql(model: type[Model], rows: int, returning: bool) -> tuple[str, tuple[Any, ...]]:
    fields = _insert_fields(model)
    row = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES {', '.join([row] * rows)}"
    )
    params: tuple[Any, ...] = ()
    if returning:
        returning_sql, returning_params = connection.ops.return_insert_columns([model._meta.pk])
        sql, params = f"{sql} {returning_sql}", tuple(returning_params)
    return sql, params


def _row(obj: Model) -> list[Any]:
    return [
        field.get_db_prep_save(field.pre_save(obj, True), connection=connection) for field in _insert_fields(type(obj))
    ]


def _saved(obj: Model) -> None:
    obj._state.adding = False
    obj._state.db = connection.alias


def insert(obj: M) -> M:
    """INSERT one row and set the object's primary key, as `save()` would for a new object."""
    model = type(obj)
    returning = bool(connection.features.can_return_columns_from_insert)
    sql, extra = _insert_sql(model, 1, returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*_row(obj), *extra])
        if returning:
            obj.pk = cursor.fetchone()[0]
        else:
            obj.pk = connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)
    _saved(obj)
    return obj


def insert_many(objs: Sequence[Model]) -> None:
    """INSERT rows of one model in one statement; primary keys are not read back."""
    if not objs:
        return
    model = type(objs[0])
    sql, _ = _insert_sql(model, len(objs), False)
    params = [value for obj in objs for value in _row(obj)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    for obj in objs:
        _saved(obj)
