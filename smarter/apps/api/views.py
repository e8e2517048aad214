"""The probes of operations: `/healthz` (the process is up), `/readyz` (its backends answer) and
`/metrics` (Prometheus's scrape)."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from smarter.apps.account.billing.limits import door_admit, visitor_key
from smarter.lib.client_address import client_ip
from smarter.lib.errors import MethodNotAllowed, NotAuthenticated, RateLimited
from smarter.lib.health import check_backing_services
from smarter.lib.http.errors import error_response
from smarter.lib.metrics import CONTENT_TYPE, scrape, token_matches

# Wrong metrics tokens tried per minute from one address before 429: a scraper with the right
# token never counts here.
METRICS_REFUSALS_PER_MINUTE = 30


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


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus's scrape: every process's metrics, for `Authorization: Bearer
    <SMARTER_METRICS_TOKEN>`. Not served at all while no token is set (404, as any unknown path);
    401 for a missing or wrong token, and past a few wrong ones a minute from one address, 429."""
    if settings.SMARTER.metrics_token is None:
        raise Http404
    if not token_matches(request.headers.get("Authorization", "")):
        try:
            door_admit(
                key=f"metrics-refused:{visitor_key(client_ip(request))}",
                per_minute=METRICS_REFUSALS_PER_MINUTE,
                what="with a wrong metrics token from this address",
                limit="metrics",
            )
        except RateLimited as refused:
            return error_response(refused)
        refusal = error_response(NotAuthenticated("GET /metrics needs Authorization: Bearer <the metrics token>."))
        refusal["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refusal
    if request.method not in ("GET", "HEAD"):
        return error_response(MethodNotAllowed("Use GET."))
    return HttpResponse(scrape(), content_type=CONTENT_TYPE)
