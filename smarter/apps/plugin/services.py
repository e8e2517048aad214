"""Every write of the plugin app, one function per use case; and the plugin test."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.db.models import ProtectedError, RestrictedError

from smarter.apps.account.billing import limits as billing_limits
from smarter.apps.account.caller import Caller
from smarter.apps.account.models import Account
from smarter.apps.plugin import selectors
from smarter.apps.plugin.arguments import arguments_from_test_values
from smarter.apps.plugin.execution import PluginResult, plugin_execute
from smarter.apps.plugin.models import ApiConnection, Plugin, SqlConnection
from smarter.lib.errors import Conflict, NotFound


def _update(instance: models.Model, fields: dict[str, Any]) -> bool:
    """Write only what differs, so re-applying the same manifest writes nothing."""
    changed = [name for name, value in fields.items() if getattr(instance, name) != value]
    if not changed:
        return False
    for name in changed:
        setattr(instance, name, fields[name])
    instance.save(update_fields=[*changed, "updated_at"])
    return True


def _delete(instance: models.Model, kind: str) -> None:
    name = getattr(instance, "name", str(instance.pk))
    try:
        with transaction.atomic():
            instance.delete()
    except (ProtectedError, RestrictedError) as error:
        users = sorted(
            {
                f"{getattr(obj, 'kind', type(obj).__name__)} {getattr(obj, 'name', obj)}"
                for obj in (error.protected_objects if isinstance(error, ProtectedError) else error.restricted_objects)
            }
        )
        raise Conflict(
            f"{kind} {name!r} is in use by {', '.join(users)}; change or delete those first.",
            context={"kind": kind, "name": name, "usedBy": users},
        ) from None


@transaction.atomic
def sql_connection_create(*, account: Account, name: str, **fields: Any) -> SqlConnection:
    return SqlConnection.objects.create(account=account, name=name, **fields)


@transaction.atomic
def sql_connection_update(*, connection: SqlConnection, **fields: Any) -> bool:
    return _update(connection, fields)


def sql_connection_delete(*, connection: SqlConnection) -> None:
    _delete(connection, "SqlConnection")


@transaction.atomic
def api_connection_create(*, account: Account, name: str, **fields: Any) -> ApiConnection:
    return ApiConnection.objects.create(account=account, name=name, **fields)


@transaction.atomic
def api_connection_update(*, connection: ApiConnection, **fields: Any) -> bool:
    return _update(connection, fields)


def api_connection_delete(*, connection: ApiConnection) -> None:
    _delete(connection, "ApiConnection")


@transaction.atomic
def plugin_create(*, account: Account, name: str, plugin_class: str, **fields: Any) -> Plugin:
    return Plugin.objects.create(account=account, name=name, plugin_class=plugin_class, **fields)


@transaction.atomic
def plugin_update(*, plugin: Plugin, **fields: Any) -> bool:
    return _update(plugin, fields)


def plugin_delete(*, plugin: Plugin) -> None:
    _delete(plugin, plugin.kind)


_NO_ARGUMENTS = object()


def plugin_test(
    *, account: Account, name: str, arguments: Any = _NO_ARGUMENTS, caller: Caller | None = None
) -> PluginResult:
    """Run the account's plugin `name` as the model would, with `arguments` or its testValues.

    404 for an unknown plugin or one of another account; a failing plugin is a result with an
    error, not an exception (that is what the model would see). A run costs like a tool call, so
    a `caller` (the API key or console user asking) is rate limited first (429).
    """
    if caller is not None:
        billing_limits.plugin_test_admit(caller=caller)
    plugin = selectors.plugin_get(account=account, name=name)
    if plugin is None:
        raise NotFound(f"Plugin {name!r} was not found in your account.", context={"kind": "Plugin", "name": name})
    if arguments is _NO_ARGUMENTS or arguments is None:
        if plugin.plugin_class == "static":
            keys = list((plugin.data.get("staticData") or {}).keys())
            arguments = {"inquiry_type": keys[0]} if keys else {}
        else:
            arguments = arguments_from_test_values(plugin.data.get("testValues") or [])
    return plugin_execute(plugin=plugin, arguments=arguments)
