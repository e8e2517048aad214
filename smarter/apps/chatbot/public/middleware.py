"""The first middleware: route every request by its Host (see `routing`).

The platform's hosts go on to the normal site; a deployed chatbot's hosts get its public URLconf;
an undeployed chatbot's host or an unverified domain answers 404, and any other host 400 (but
`/metrics`, which Prometheus asks of a pod's address). This is what makes `ALLOWED_HOSTS = ["*"]`
safe: no view ever sees a host we do not serve.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

from smarter.apps.chatbot.public import refusals
from smarter.apps.chatbot.routing import PLATFORM, Route, cached_route, normalize_host, route_from_database
from smarter.lib.db_threads import in_db_thread

PUBLIC_URLCONF = "smarter.apps.chatbot.public.urls"

_UNVERIFIED = "This domain is not verified yet: add its DNS TXT record, then describe the chatbot."


def _host_of(request: HttpRequest) -> str:
    try:
        return normalize_host(request.get_host())
    except DisallowedHost:  # not a syntactically valid host at all
        return ""


def _scraped(request: HttpRequest) -> Route | None:
    """Prometheus scrapes a pod by its address (`Host: 10.1.2.3:8000`), which is no host we serve:
    `/metrics` answers on any host that is not a chatbot's (it asks for its own token)."""
    if request.path != "/metrics":
        return None
    domain = _host_of(request)
    route = cached_route(domain)
    return PLATFORM if route is None or route.kind == "unknown" else None


class HostRoutingMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[..., Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        domain = _host_of(request)
        route = _scraped(request) or cached_route(domain) or route_from_database(domain)
        return self._refusal(request, route) or self.get_response(self._routed(request, route, domain))

    async def __acall__(self, request: HttpRequest) -> Any:
        domain = _host_of(request)
        # A cache read is a local dict or one Redis round trip: cheaper than a thread hop.
        route = _scraped(request) or cached_route(domain)
        if route is None:
            route = await in_db_thread(route_from_database, domain)
        refusal = self._refusal(request, route)
        if refusal is not None:
            return refusal
        return await self.get_response(self._routed(request, route, domain))

    @staticmethod
    def _refusal(request: HttpRequest, route: Route) -> HttpResponse | None:
        """A branded page for a browser, the error envelope for other clients."""
        if route.kind in ("platform", "chatbot"):
            return None
        if route.kind == "undeployed":
            return refusals.not_found(request, "This chatbot is not deployed.")
        if route.kind == "unverified":
            return refusals.not_found(request, _UNVERIFIED)
        return refusals.unknown_host(request)

    @staticmethod
    def _routed(request: HttpRequest, route: Route, domain: str) -> HttpRequest:
        if route.kind == "chatbot":
            request.urlconf = PUBLIC_URLCONF  # type: ignore[attr-defined]
            request.chatbot_id = route.chatbot_id  # type: ignore[attr-defined]
            request.chatbot_host = domain  # type: ignore[attr-defined]
        return request
