"""Channels in the console: the account's channels (a chatbot on a WhatsApp or Twilio number),
and one channel's settings, webhook URL, counts and recent deliveries with their replies.

The console and the channels app are both doors, and no door imports another: the pages read
channels through the Channel broker (what `smarter get` and `describe` show), and the recent
deliveries are a section the channels app adds to the channel page (`lib.console_panels`).
Changes go through the generic manifest forms, like any kind's.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.lib.console_panels import panels_for
from smarter.lib.manifests import broker_for


def _problems(status: dict[str, Any]) -> int:
    """Messages whose turn failed and replies that were not delivered."""
    return int((status.get("messages") or {}).get("failed", 0)) + int((status.get("replies") or {}).get("failed", 0))


@require_GET
@console_page()
def channel_list(request: HttpRequest) -> HttpResponse:
    caller = caller_of(request)
    broker = broker_for("Channel")
    rows = []
    for item in broker.list_items(caller):
        status = broker.describe(caller, item["name"])["status"]
        rows.append({**item, "status": status, "problems": _problems(status)})
    return page(request, "dashboard/channels.html", {"channels": rows})


@require_GET
@console_page()
def channel_detail(request: HttpRequest, name: str) -> HttpResponse:
    caller = caller_of(request)
    manifest = broker_for("Channel").describe(caller, name)  # another account's: NotFound, a 404
    context = {
        "channel_name": name,
        "manifest": manifest,
        "config": sorted(manifest["spec"].get("config", {}).items()),
        "problems": _problems(manifest["status"]),
        "panels": panels_for("channel", caller, name),
    }
    return page(request, "dashboard/channel_detail.html", context)
