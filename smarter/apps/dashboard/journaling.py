"""Console writes journaled as the API journals the same writes: who, which command, on which
resource, the answer's status and how long it took, so that the account's journal shows the
write whichever door it came through."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

from smarter.apps.account.caller import Caller
from smarter.apps.account.services import journal_record

View = Callable[..., HttpResponse]


def journal_as(request: HttpRequest, name: str) -> None:
    """Name the resource more precisely than the URL does (a suite's run: `suite/run`)."""
    request.journal_name = name  # type: ignore[attr-defined]


def journaled(command: str, kind: str) -> Callable[[View], View]:
    """Journal each POST of the view under `command` and `kind`. It wraps `console_page`, so a
    refused or not-found write is journaled with its status too, as the API's are; an anonymous
    visitor (sent to sign in) is not, having no account to journal in."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            started = time.perf_counter()
            journal_as(request, str(kwargs.get("name", "")))
            response = view(request, *args, **kwargs)
            caller = getattr(request, "caller", None)
            if request.method == "POST" and isinstance(caller, Caller):
                journal_record(
                    key=uuid.uuid4().hex,
                    account=caller.account,
                    user=caller.user,
                    api_key=None,
                    command=command,
                    kind=kind,
                    name=getattr(request, "journal_name", ""),
                    status_code=response.status_code,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    request_id=getattr(request, "request_id", ""),
                )
            return response

        return wrapper

    return decorate
