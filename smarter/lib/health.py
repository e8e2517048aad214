"""Reachability of the backing services: the database, the cache and the Celery broker."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connections

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthReport:
    services: dict[str, str]

    @property
    def healthy(self) -> bool:
        return all(state in ("ok", "eager") for state in self.services.values())

    @property
    def failing(self) -> list[str]:
        return [name for name, state in self.services.items() if state not in ("ok", "eager")]


def _database() -> str:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as error:
        logger.warning("database unreachable: %s", error)
        return f"unreachable: {type(error).__name__}"


def _cache() -> str:
    probe = f"health:{uuid.uuid4().hex}"
    try:
        cache.set(probe, "1", timeout=5)
        found = cache.get(probe)
        cache.delete(probe)
        return "ok" if found == "1" else "unreachable: value not kept"
    except Exception as error:
        logger.warning("cache unreachable: %s", error)
        return f"unreachable: {type(error).__name__}"


def _broker() -> str:
    url = settings.SMARTER.redis_url
    if url is None:
        return "eager"  # no broker configured: tasks run in-process (the embedded default)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
        return "ok"
    except Exception as error:
        logger.warning("broker unreachable: %s", error)
        return f"unreachable: {type(error).__name__}"


def check_backing_services() -> HealthReport:
    return HealthReport({"database": _database(), "cache": _cache(), "broker": _broker()})
