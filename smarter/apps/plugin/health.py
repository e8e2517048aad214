"""Live health of connections, for describe's status: a short-timeout check, never an error."""

from __future__ import annotations

import logging
import time
from typing import Any

from smarter.apps.plugin import api_runner, sql_runner
from smarter.apps.plugin.execution import api_target, sql_target
from smarter.apps.plugin.models import ApiConnection, SqlConnection

logger = logging.getLogger(__name__)


def sql_connection_health(connection: SqlConnection) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        sql_runner.ping(sql_target(connection))
    except sql_runner.SqlRunError as error:
        return {"reachable": False, "detail": str(error), "ms": _since(started)}
    except Exception:
        # A driver failing in a way of its own is a bug of ours to log, never a failed describe.
        logger.exception("health check of SqlConnection %s failed", connection.pk)
        return {"reachable": False, "detail": "the check failed unexpectedly", "ms": _since(started)}
    return {"reachable": True, "detail": "SELECT 1 succeeded", "ms": _since(started)}


def api_connection_health(connection: ApiConnection) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        status = api_runner.ping(api_target(connection))
    except api_runner.ApiRunError as error:
        return {"reachable": False, "detail": str(error), "ms": _since(started)}
    return {
        "reachable": True,
        "detail": f"GET {connection.base_url} answered HTTP {status}",
        "ms": _since(started),
    }


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
