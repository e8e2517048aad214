"""Django admin of the chat app: turns and tool calls, for the operator to read. They are written
by the turn pipeline only, so nothing here adds, changes or deletes one (a session goes with its
turns through `chat_delete`)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from smarter.apps.chat.models import ToolCall, Turn
from smarter.lib.admin import ReadOnlyAdmin


@admin.register(Turn)
class TurnAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "account",
        "chatbot",
        "index",
        "status",
        "provider",
        "model",
        "total_tokens",
        "latency_ms",
    ]
    list_filter = ["status", ("chat__account", admin.RelatedOnlyFieldListFilter), "provider"]
    search_fields = ["chat__session_key", "chat__account__name", "chat__chatbot__name", "model"]
    list_select_related = ["chat__account", "chat__chatbot"]
    date_hierarchy = "created_at"

    @admin.display(ordering="chat__account__name")
    def account(self, turn: Turn) -> str:
        return turn.chat.account.name

    @admin.display(ordering="chat__chatbot__name")
    def chatbot(self, turn: Turn) -> str:
        return turn.chat.chatbot.name


class ToolCallOutcome(admin.SimpleListFilter):
    """A tool call succeeded (no error) or failed."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("ok", "Succeeded"), ("error", "Failed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ToolCall]) -> QuerySet[ToolCall]:
        if self.value() == "ok":
            return queryset.filter(error="")
        if self.value() == "error":
            return queryset.exclude(error="")
        return queryset


@admin.register(ToolCall)
class ToolCallAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "tool_name", "plugin_name", "round", "succeeded", "ms"]
    list_filter = [ToolCallOutcome, ("chat__account", admin.RelatedOnlyFieldListFilter), "tool_name"]
    search_fields = ["tool_name", "plugin_name", "call_id", "chat__session_key", "chat__account__name"]
    list_select_related = ["chat__account"]

    @admin.display(ordering="chat__account__name")
    def account(self, call: ToolCall) -> str:
        return call.chat.account.name

    @admin.display(boolean=True)
    def succeeded(self, call: ToolCall) -> bool:
        return not call.error
