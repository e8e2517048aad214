"""Django's built-in middleware, in versions whose CPU-only hooks run on the event loop under ASGI.

Django's `MiddlewareMixin` runs every `process_request` and `process_response` in a thread
(`sync_to_async`) when the request is async, so a request through the standard stack makes about
a dozen thread hops, which cost more than the request's own work. The classes here subclass
Django's and follow the documented protocol of middleware that are both sync- and async-capable:
under ASGI, `__call__` returns a coroutine that calls the class's own public hooks
(`process_request`, `process_view`, `process_response`) inline, since they only read and write
headers, cookies and lazy attributes. A hook that may touch the database or the disk runs in a
thread as Django's would: saving a modified session, storing messages that overflow their
cookie, CSRF secrets kept in the session, and the CSRF check of a form post (it parses the body).
Under WSGI (and the test client) they are Django's classes unchanged.

They are listed in MIDDLEWARE in place of Django's. Django's deploy checks look for its own classes
by dotted name, so `smarter.lib.http.checks` checks these instead, and the tests compare both.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as message_middleware
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest
from django.middleware import clickjacking, common, csrf, security
from whitenoise.middleware import WhiteNoiseMiddleware


class _InlineHooks:
    """Under ASGI: `process_request`, the rest of the chain, then `process_response`, with no
    thread hop. `_in_thread` names the requests whose hooks must still run in one."""

    get_response: Any

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)  # type: ignore[call-arg]
        self._serves_async = iscoroutinefunction(get_response)
        if self._serves_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._serves_async:
            return self._acall(request)
        return super().__call__(request)  # type: ignore[misc]

    async def _acall(self, request: HttpRequest) -> Any:
        response = None
        process_request = getattr(self, "process_request", None)
        if process_request is not None:
            response = process_request(request)
        response = response or await self.get_response(request)
        process_response = getattr(self, "process_response", None)
        if process_response is None:
            return response
        if self._response_in_thread(request):
            return await sync_to_async(process_response, thread_sensitive=True)(request, response)
        return process_response(request, response)

    def _response_in_thread(self, request: HttpRequest) -> bool:
        return False


class SecurityMiddleware(_InlineHooks, security.SecurityMiddleware):
    pass


class SessionMiddleware(_InlineHooks, sessions.SessionMiddleware):
    """The session is read lazily (only when a view uses it); saving one writes the database."""

    def _response_in_thread(self, request: HttpRequest) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class CommonMiddleware(_InlineHooks, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(_InlineHooks, csrf.CsrfViewMiddleware):
    """The secret is read from its cookie (CSRF_USE_SESSIONS reads the session: then in a
    thread); the check of an unsafe request that is not exempt reads the form body, in a thread."""

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        if self._serves_async:
            # Django's handler calls the view hook as it finds it: a coroutine is awaited inline.
            self.process_view = self._process_view_async  # type: ignore[method-assign,assignment]

    async def _acall(self, request: HttpRequest) -> Any:
        if settings.CSRF_USE_SESSIONS:
            return await _in_thread_hooks(self, request)
        return await super()._acall(request)

    async def _process_view_async(self, request: HttpRequest, callback: Any, args: Any, kwargs: Any) -> Any:
        check = super().process_view
        if getattr(callback, "csrf_exempt", False) or request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return check(request, callback, args, kwargs)
        return await sync_to_async(check, thread_sensitive=True)(request, callback, args, kwargs)


class AuthenticationMiddleware(_InlineHooks, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(_InlineHooks, message_middleware.MessageMiddleware):
    """Messages live in a cookie; those that overflow it go to the session (the database)."""

    def _response_in_thread(self, request: HttpRequest) -> bool:
        storage = messages.get_messages(request)
        return bool(getattr(storage, "used", False) or getattr(storage, "added_new", False))


class XFrameOptionsMiddleware(_InlineHooks, clickjacking.XFrameOptionsMiddleware):
    pass


async def _in_thread_hooks(middleware: Any, request: HttpRequest) -> Any:
    """Django's own way: each hook in a thread."""
    response = await sync_to_async(middleware.process_request, thread_sensitive=True)(request)
    response = response or await middleware.get_response(request)
    return await sync_to_async(middleware.process_response, thread_sensitive=True)(request, response)


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


# Django's class each of ours stands for (its deploy checks and the admin's look for these).
STANDS_FOR = {
    f"{__name__}.{cls.__name__}": f"{base.__module__}.{base.__name__}"
    for cls, base in (
        (SecurityMiddleware, security.SecurityMiddleware),
        (SessionMiddleware, sessions.SessionMiddleware),
        (CommonMiddleware, common.CommonMiddleware),
        (CsrfViewMiddleware, csrf.CsrfViewMiddleware),
        (AuthenticationMiddleware, auth.AuthenticationMiddleware),
        (MessageMiddleware, message_middleware.MessageMiddleware),
        (XFrameOptionsMiddleware, clickjacking.XFrameOptionsMiddleware),
    )
}
