"""The probes of operations: `/healthz` (the process is up) and `/readyz` (its backends answer)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from smarter.lib.health import check_backing_services


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving. Touches nothing else, so it never flaps with a backend."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: database, cache and broker answer. 503 names which one did not."""
    report = check_backing_services()
    body: dict[str, object] = {
        "status": "ready" if report.healthy else "unavailable",
        "services": report.services,
    }
    if not report.healthy:
        body["failing"] = report.failing
    return JsonResponse(body, status=200 if report.healthy else 503)
