"""The console's changes in the account's journal, as the API's are: who did what to which
resource, with what result (a change the console refused is recorded too)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from django.http import HttpRequest

from smarter.apps.account import services as account_services
from smarter.apps.account.caller import Caller
from smarter.apps.dashboard.services import BatchLine


@dataclass(frozen=True)
class Journaled:
    """What a console view's POST does, for its journal entry: `command` and `kind` may name the
    view's URL arguments (`{action}`), `kinds` maps the kind so named to the manifest kind; the
    name is the URL's `name`/`username`, else the form's. A view that only previewed its change
    says so with `journal_command_as(request, "diff")`."""

    command: str
    kind: str
    kinds: tuple[tuple[str, str], ...] = ()

    def command_and_kind(self, kwargs: dict[str, str]) -> tuple[str, str]:
        kind = self.kind.format(**kwargs)
        return self.command.format(**kwargs), dict(self.kinds).get(kind, kind)


def journal_command_as(request: HttpRequest, command: str) -> None:
    """Journal this request's change under `command` rather than the view's own."""
    request.journal_command = command  # type: ignore[attr-defined]


def console_change_record(
    request: HttpRequest, caller: Caller, *, command: str, kind: str, name: str, status_code: int, started: float
) -> None:
    # A console answer redirects after a change: in the journal, as in the API's, that is a 200.
    status = 200 if 300 <= status_code < 400 else status_code
    account_services.journal_record(
        key=uuid.uuid4().hex,
        account=caller.account,
        user=caller.user,
        api_key=None,
        command=command,
        kind=kind,
        name=name,
        status_code=status,
        duration_ms=(time.perf_counter() - started) * 1000,
        request_id=getattr(request, "request_id", ""),
    )


def changed_name(request: HttpRequest, kwargs: dict[str, str]) -> str:
    return (
        kwargs.get("name") or kwargs.get("username") or request.POST.get("name") or request.POST.get("username") or ""
    )


def batch_record(request: HttpRequest, caller: Caller, *, command: str, lines: list[BatchLine], started: float) -> None:
    """One entry per manifest of a batch the Apply page applied (or previewed), as the API makes
    one per manifest."""
    for line in lines:
        console_change_record(
            request, caller, command=command, kind=line.kind, name=line.name, status_code=line.status, started=started
        )
