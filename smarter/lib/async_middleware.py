"""Django's built-in middleware, with their CPU-only hooks run on the event loop under ASGI.

Django's `MiddlewareMixin` runs every `process_request` and `process_response` in a thread
(`sync_to_async`) when the request is async, so a request through the standard stack makes
about a dozen thread hops, which cost more than the request's own work. These hooks only read
and write headers, cookies and lazy attributes, so `install()` makes them run inline. The one
hook that may touch the database, saving a modified session, still runs in a thread. Under WSGI
(and the test client) nothing changes: `__call__` is Django's own.

The classes keep their names in MIDDLEWARE, so Django's security checks (which look for them
by name) keep checking.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest
from django.middleware import clickjacking, common, csrf, security
from whitenoise.middleware import WhiteNoiseMiddleware

CPU_ONLY = (
    security.SecurityMiddleware,
    common.CommonMiddleware,
    csrf.CsrfViewMiddleware,
    auth.AuthenticationMiddleware,
    messages.MessageMiddleware,
    clickjacking.XFrameOptionsMiddleware,
)


async def _inline_acall(self: Any, request: HttpRequest) -> Any:
    response = None
    if hasattr(self, "process_request"):
        response = self.process_request(request)
    response = response or await self.get_response(request)
    if hasattr(self, "process_response"):
        response = self.process_response(request, response)
    return response


async def _session_acall(self: Any, request: HttpRequest) -> Any:
    self.process_request(request)  # lazy: the session is read only when a view uses it
    response = await self.get_response(request)
    session = getattr(request, "session", None)
    if session is not None and session.modified:
        return await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
    return self.process_response(request, response)


def install() -> None:
    for middleware in CPU_ONLY:
        middleware.__acall__ = _inline_acall  # type: ignore[method-assign]
    sessions.SessionMiddleware.__acall__ = _session_acall  # type: ignore[method-assign]


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, usable by an async stack. WhiteNoise's own middleware is sync only, and one
    sync middleware makes Django run the whole request through a thread and back (two hops and
    a new thread per request). Requests outside the static prefix pass straight through on the
    event loop; a static file is looked up and opened in a thread, because that touches disk."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._is_async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: HttpRequest) -> Any:
        if not request.path_info.startswith(self.static_prefix):
            return await self.get_response(request)
        static_file = await sync_to_async(self._find, thread_sensitive=False)(request.path_info)
        if static_file is None:
            return await self.get_response(request)
        return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)

    def _find(self, path: str) -> Any:
        return self.find_file(path) if self.autorefresh else self.files.get(path)
