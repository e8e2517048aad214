"""A chatbot's conversations: its sessions from every channel (searched and filtered), one
session's transcript, and the filtered sessions' turns as CSV or JSON lines. Members read them;
another account's chatbot or session is not found."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from smarter.apps.chat.conversations import (
    EXPORT_COLUMNS,
    ConversationFilters,
    conversation_get,
    conversation_turns,
    conversations_of,
    filter_query,
    preview,
)
from smarter.apps.chat.models import Channel
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.chatbot.selectors import chatbot_get
from smarter.apps.dashboard.access import caller_of, console_page, page
from smarter.lib.errors import FieldError, NotFound, ValidationFailed
from smarter.lib.http.errors import error_response

PER_PAGE = 25
RATING_CHOICES = [
    ("", "Any or none"),
    ("up", "Thumbs up"),
    ("down", "Thumbs down"),
    ("any", "Rated"),
    ("none", "Not rated"),
]


class FilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, strip=True)
    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    channel = forms.ChoiceField(required=False, choices=[("", "Every channel"), *Channel.choices])
    rating = forms.ChoiceField(required=False, choices=RATING_CHOICES)
    errors_only = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", "must be on or after start")
        return cleaned

    def filters(self) -> ConversationFilters:
        data = self.cleaned_data
        return ConversationFilters(
            text=data["q"],
            start=data["start"],
            end=data["end"],
            channel=data["channel"],
            rating=data["rating"],
            errors_only=bool(data["errors_only"]),
        )

    def field_errors(self) -> list[FieldError]:
        return [FieldError(name, str(message)) for name, messages in self.errors.items() for message in messages]


def _chatbot(request: HttpRequest, name: str) -> Chatbot:
    chatbot = chatbot_get(account=caller_of(request).account, name=name)
    if chatbot is None:
        raise NotFound(f"Chatbot {name!r} was not found.")
    return chatbot


@require_GET
@console_page()
def conversation_list(request: HttpRequest, name: str) -> HttpResponse:
    chatbot = _chatbot(request, name)
    form = FilterForm(request.GET)
    if not form.is_valid():
        context = {
            "chatbot": chatbot,
            "form": form,
            "filter_errors": form.errors,
            "sessions": None,
            "rows": [],
            "query": "",
        }
        return page(request, "dashboard/conversations.html", context, status=400)
    filters = form.filters()
    sessions = conversations_of(account=caller_of(request).account, chatbot=chatbot, filters=filters)
    sessions_page = Paginator(sessions, PER_PAGE).get_page(request.GET.get("page"))
    rows = [(session, preview(getattr(session, "last_message", ""))) for session in sessions_page]
    context = {
        "chatbot": chatbot,
        "form": form,
        "sessions": sessions_page,
        "rows": rows,
        "query": urlencode(filter_query(filters)),
    }
    return page(request, "dashboard/conversations.html", context)


@require_GET
@console_page()
def conversation_detail(request: HttpRequest, name: str, session_key: str) -> HttpResponse:
    chatbot = _chatbot(request, name)
    transcript = conversation_get(account=caller_of(request).account, chatbot=chatbot, session_key=session_key)
    if transcript is None:
        raise NotFound("No such session of this chatbot.")
    return page(request, "dashboard/conversation.html", {"chatbot": chatbot, "transcript": transcript})


def _export_rows(request: HttpRequest, name: str) -> tuple[Chatbot, Iterator[dict[str, Any]]] | HttpResponse:
    chatbot = _chatbot(request, name)
    form = FilterForm(request.GET)
    if not form.is_valid():
        return error_response(
            ValidationFailed("The filters are invalid; fix the fields listed in errors.", errors=form.field_errors())
        )
    rows = conversation_turns(account=caller_of(request).account, chatbot=chatbot, filters=form.filters())
    return chatbot, rows


@require_GET
@console_page()
def conversations_csv(request: HttpRequest, name: str) -> HttpResponse:
    """One row per turn of the filtered sessions, EXPORT_COLUMNS in that order."""
    found = _export_rows(request, name)
    if isinstance(found, HttpResponse):
        return found
    chatbot, rows = found
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{chatbot.name}-conversations.csv"'
    writer = csv.writer(response)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow(["" if row[column] is None else row[column] for column in EXPORT_COLUMNS])
    return response


@require_GET
@console_page()
def conversations_jsonl(request: HttpRequest, name: str) -> HttpResponse:
    """The same rows as the CSV, one JSON object a line."""
    found = _export_rows(request, name)
    if isinstance(found, HttpResponse):
        return found
    chatbot, rows = found
    response = HttpResponse(content_type="application/x-ndjson; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{chatbot.name}-conversations.jsonl"'
    for row in rows:
        response.write(json.dumps(row, ensure_ascii=False) + "\n")
    return response
