"""A REST view whose writes are journaled as the cli commands are: who, which command, on which
resource, the answer's status and how long it took."""

from __future__ import annotations

import time
import uuid
from typing import Any

from rest_framework.request import Request
from rest_framework.views import APIView

from smarter.apps.account import services
from smarter.apps.account.caller import Caller


class JournaledView(APIView):
    """`command` names a POST or DELETE of the view in the journal, `journal_kind` what it acts
    on; `journal_name` starts as the URL's `name` and a handler may make it more precise."""

    command = ""
    journal_kind = ""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self._started = time.perf_counter()
        self.journal_name = str(kwargs.get("name", ""))
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        caller = getattr(request, "_auth", None)
        if self.command and request.method in ("POST", "DELETE") and isinstance(caller, Caller):
            services.journal_record(
                key=uuid.uuid4().hex,
                account=caller.account,
                user=caller.user,
                api_key=caller.api_key,
                command=self.command,
                kind=self.journal_kind,
                name=getattr(self, "journal_name", ""),
                status_code=response.status_code,
                duration_ms=(time.perf_counter() - self._started) * 1000,
                request_id=getattr(request._request, "request_id", ""),
            )
        return response
