"""The base of every `/api/v1/cli/` endpoint: the success envelope and the journal.

Every command is journaled once its response is known (status code and duration included),
after the command's own transaction has committed or rolled back, so a failed `apply` is
recorded too and a journal problem can never undo a command.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from smarter.apps.account import services as account_services
from smarter.apps.account.caller import Caller
from smarter.lib.manifests import API_VERSION


class CliView(APIView):
    command: str = ""
    # The official CLI always POSTs; read verbs accept GET too.
    http_method_names = ["get", "post", "options"]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self._started = time.perf_counter()
        self.journal_key = uuid.uuid4().hex
        self.journal_kind = ""
        self.journal_name = ""
        super().initial(request, *args, **kwargs)

    def note(self, *, kind: str = "", name: str | None = "") -> None:
        """What the command is about, for the journal."""
        self.journal_kind = kind
        self.journal_name = name or ""

    def respond(self, thing: str, data: Any) -> Response:
        return Response(
            {
                "data": data,
                "api": API_VERSION,
                "thing": thing,
                "metadata": {"command": self.command, "key": self.journal_key},
            }
        )

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        caller = getattr(request, "_auth", None)
        if isinstance(caller, Caller) and hasattr(self, "journal_key"):
            account_services.journal_record(
                key=self.journal_key,
                account=caller.account,
                user=caller.user,
                api_key=caller.api_key,
                command=self.command,
                kind=self.journal_kind,
                name=self.journal_name,
                status_code=response.status_code,
                duration_ms=(time.perf_counter() - self._started) * 1000,
                request_id=getattr(request._request, "request_id", ""),
            )
        return response
