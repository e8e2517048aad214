"""Read-only kinds over chat history: `Chat`, `ChatHistory`, `ChatToolCall`, `ChatPluginUsage`.

They exist for `get`, `describe` and `logs`; sessions are written by chatting, never applied.
An item's `name` is its session key, so `get chathistory?name=<session_key>` lists one session.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from django.db.models import Count, QuerySet

from smarter.apps.chat import selectors, services
from smarter.apps.chat.logs import chat_logs
from smarter.lib.errors import FieldError, PermissionDenied, ValidationFailed
from smarter.lib.manifests import ApplyOutcome, Broker, CamelModel, Column, Manifest, register
from smarter.lib.manifests.broker import Caller

LIST_LIMIT = 200
# Every entry of a session is named by its session's key.
SESSION = Column("name", source="chat.session_key")
PLUGIN = Column("plugin", source="plugin_name")


class _NoSpec(CamelModel):
    pass


class _ReadOnlyManifest(Manifest):
    spec: _NoSpec


class ChatManifest(_ReadOnlyManifest):
    kind: Literal["Chat"] = "Chat"


class ChatHistoryManifest(_ReadOnlyManifest):
    kind: Literal["ChatHistory"] = "ChatHistory"


class ChatToolCallManifest(_ReadOnlyManifest):
    kind: Literal["ChatToolCall"] = "ChatToolCall"


class ChatPluginUsageManifest(_ReadOnlyManifest):
    kind: Literal["ChatPluginUsage"] = "ChatPluginUsage"


class _ReadOnlyBroker(Broker):
    write_role = "admin"
    read_only = True
    session_field: ClassVar[str] = "chat__session_key"

    def apply(self, caller: Caller, manifest: Any) -> ApplyOutcome:
        raise ValidationFailed(
            f"{self.kind} is read-only: sessions are recorded by chatting.",
            context={"kind": self.kind},
            errors=[FieldError("kind", "read-only")],
        )

    def rows(self, caller: Caller) -> QuerySet[Any]:
        raise NotImplementedError

    def list_items(self, caller: Caller) -> list[dict[str, Any]]:
        return [self.item(row) for row in self.rows(caller)[:LIST_LIMIT]]

    def get(self, caller: Caller, name: str | None = None) -> dict[str, Any]:
        if name is None:
            return super().get(caller)
        rows = self.rows(caller).filter(**{self.session_field: name})[:LIST_LIMIT]
        items = [self.item(row) for row in rows]
        if not items:
            raise self.not_found(name)
        return {"titles": self.titles(), "items": items}

    def describe(self, caller: Caller, name: str) -> dict[str, Any]:
        return self.envelope({"name": name}, {}, chat_logs(account=caller.account, session_key=name))

    def delete(self, caller: Caller, name: str) -> None:
        raise ValidationFailed(
            f"{self.kind} entries are deleted with their session: delete the Chat {name!r}.",
            context={"kind": self.kind, "name": name},
            errors=[FieldError("kind", "delete the Chat instead")],
        )

    def example(self) -> dict[str, Any]:
        return {"apiVersion": "smarter.sh/v1", "kind": self.kind, "metadata": {"name": "session_key"}, "spec": {}}


class ChatBroker(_ReadOnlyBroker):
    kind = "Chat"
    aliases = ("Chats",)
    manifest_model = ChatManifest
    session_field = "session_key"
    columns = (
        Column("name", source="session_key"),
        Column("chatbot"),
        Column("channel"),
        Column("turns", "integer", source="turn_count"),
        Column("createdAt", "datetime"),
    )

    def rows(self, caller: Caller) -> QuerySet[Any]:
        # An annotation drops Meta.ordering: order explicitly, or the list limit picks rows at random.
        return selectors.chats_of(caller.account).annotate(turn_count=Count("turns")).order_by("-created_at", "-id")

    def delete(self, caller: Caller, name: str) -> None:
        chat = selectors.chat_get(account=caller.account, session_key=name)
        if chat is None:
            raise self.not_found(name)
        # A member may forget the sessions she started herself; anyone else's (a teammate's, an
        # admin's, a visitor's on a deployed chatbot) is an admin's to delete.
        if not caller.is_admin and chat.user_id != caller.user.pk:
            raise PermissionDenied(
                "Only an account admin may delete a chat session someone else started.",
                context={"kind": self.kind, "name": name},
            )
        services.chat_delete(chat=chat)


class ChatHistoryBroker(_ReadOnlyBroker):
    kind = "ChatHistory"
    manifest_model = ChatHistoryManifest
    columns = (
        SESSION,
        Column("chatbot", source="chat.chatbot"),
        Column("sequence", "integer"),
        Column("role"),
        Column("content"),
    )

    def rows(self, caller: Caller) -> QuerySet[Any]:
        return selectors.messages_of(caller.account).select_related("chat__chatbot")


class ChatToolCallBroker(_ReadOnlyBroker):
    kind = "ChatToolCall"
    manifest_model = ChatToolCallManifest
    columns = (
        SESSION,
        PLUGIN,
        Column("arguments"),
        Column("result", listed=False),
        Column("error", source=lambda call: call.error or None),
        Column("ms", "number"),
    )

    def rows(self, caller: Caller) -> QuerySet[Any]:
        return selectors.tool_calls_of(caller.account)


class ChatPluginUsageBroker(_ReadOnlyBroker):
    kind = "ChatPluginUsage"
    manifest_model = ChatPluginUsageManifest
    columns = (
        SESSION,
        PLUGIN,
        Column("selected", "boolean"),
        Column("rule"),
        Column("term", source=lambda selection: selection.term or None),
        Column("matchedIn", source=lambda selection: selection.matched_in or None, listed=False),
    )

    def rows(self, caller: Caller) -> QuerySet[Any]:
        return selectors.selections_of(caller.account)


def register_kinds() -> None:
    for broker in (ChatBroker(), ChatHistoryBroker(), ChatToolCallBroker(), ChatPluginUsageBroker()):
        register(broker)
