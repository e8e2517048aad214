"""What a chatbot host answers when it cannot serve a request: a short branded page for a browser,
the API's error envelope for every other client (curl, SDKs, the widget's own requests)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from smarter.lib.errors import FieldError, NotFound, SmarterError, ValidationFailed
from smarter.lib.http.errors import error_response

# The page holds only our own words: an inline stylesheet is all it needs.
ERROR_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
TITLES = {400: "This address is not served here", 404: "Page not found"}


def wants_html(request: HttpRequest) -> bool:
    """A browser names text/html in its Accept header; API clients send */* or JSON."""
    return "text/html" in request.headers.get("Accept", "")


def refusal(request: HttpRequest, error: SmarterError) -> HttpResponse:
    if not wants_html(request):
        return error_response(error)
    html = render_to_string(
        "chatbot/public/error.html",
        {"status": error.status, "title": TITLES.get(error.status, "Not available"), "message": error.description},
    )
    response = HttpResponse(html, status=error.status)
    response["Content-Security-Policy"] = ERROR_PAGE_POLICY
    response["Cache-Control"] = "no-cache"
    return response


def not_found(request: HttpRequest, description: str = "There is nothing at this address.") -> HttpResponse:
    return refusal(request, NotFound(description))


def unknown_host(request: HttpRequest) -> HttpResponse:
    description = "This host is not served here."
    return refusal(request, ValidationFailed(description, errors=[FieldError("headers.Host", "no chatbot here")]))
