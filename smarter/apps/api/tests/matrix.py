"""The tenancy and role matrix's world: one resource of every registered kind in Acme's account,
made the way a user makes it, and who may write each kind.

The matrix tests are parametrized over the broker registry, so a kind registered later is in
the matrix at once, and fails there until it has an example here (`EXAMPLES`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smarter.apps.account.models import Role
from smarter.apps.account.selectors import caller_for_user
from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.models import Chat, ChatMessage, PluginSelection, ToolCall, Turn
from smarter.apps.chatbot.models import Chatbot
from smarter.lib.manifests import Broker, broker_for, registered_brokers

# Kinds only the platform operator (a superuser) may write, whatever the account role.
OPERATOR_KINDS = {"Account"}
# The kind whose delete removes a whole session (the other read-only kinds are its parts).
SESSION_KIND = "Chat"


def writers(broker: Broker) -> str:
    """Who may apply and delete a kind: operator, admin, member, or nobody (recorded, read-only)."""
    if broker.kind in OPERATOR_KINDS:
        return "operator"
    if broker.read_only:
        return "nobody"
    return broker.write_role


def registered_kinds() -> list[str]:
    return [broker.kind for broker in registered_brokers()]


def plugin_kinds() -> list[str]:
    """Every plugin class's kind (static, sql, api, and any added later)."""
    return [broker.kind for broker in registered_brokers() if hasattr(broker, "plugin_class")]


@dataclass
class Resource:
    kind: str
    name: str
    # What made it, re-applied by the matrix; None for kinds recorded by chatting.
    manifest: dict[str, Any] | None


@dataclass
class World:
    owner: Persona
    teammate: Persona
    api_base_url: str  # a real HTTP server on loopback, for the ApiConnection
    resources: dict[str, Resource]


def as_owner(world: World, document: dict[str, Any]) -> dict[str, Any]:
    caller = caller_for_user(world.owner.user, world.owner.account.pk)  # type: ignore[arg-type]
    assert caller is not None
    broker = broker_for(document["kind"])
    broker.apply(caller, broker.validate(document))
    return document


def _manifest(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "smarter.sh/v1", "kind": kind, "metadata": {"name": name, **metadata}, "spec": spec}


def _example(kind: str) -> Callable[[World], Resource]:
    """The broker's own example manifest, applied by the owner."""

    def make(world: World) -> Resource:
        document = as_owner(world, broker_for(kind).example())
        return Resource(kind, document["metadata"]["name"], document)

    return make


def _account(world: World) -> Resource:
    return Resource("Account", world.owner.account.name, None)


def _user(world: World) -> Resource:
    # Not the owner nor the teammate: the matrix deletes it.
    document = _manifest("User", "intern", {"config": {"email": "intern@example.test", "role": Role.MEMBER.value}})
    return Resource("User", "intern", as_owner(world, document))


def _api_key(world: World) -> Resource:
    return Resource("ApiKey", "acme_ci", as_owner(world, _manifest("ApiKey", "acme_ci", {"config": {}})))


def _secret(world: World) -> Resource:
    document = _manifest("Secret", "acme_token", {"config": {"value": "s3cr3t-acme"}})
    return Resource("Secret", "acme_token", as_owner(world, document))


def _provider(world: World) -> Resource:
    spec = {"provider": {"baseUrl": "https://llm.acme.example/v1", "defaultModel": "acme-large", "timeout": 30}}
    return Resource("Provider", "acme_llm", as_owner(world, _manifest("Provider", "acme_llm", spec)))


def _api_connection(world: World) -> Resource:
    # The name the ApiPlugin example uses; no Secret, so a member may write it under any rule.
    spec = {"connection": {"baseUrl": world.api_base_url, "authMethod": "none", "timeout": 5}}
    return Resource("ApiConnection", "weather_api", as_owner(world, _manifest("ApiConnection", "weather_api", spec)))


def _chat_kind(kind: str) -> Callable[[World], Resource]:
    def make(world: World) -> Resource:
        return Resource(kind, _teammates_session(world).session_key, None)

    return make


def _teammates_session(world: World) -> Chat:
    """A session the teammate had with `support` (one turn that called the `catalogue` plugin)."""
    existing = Chat.objects.filter(account=world.owner.account, user=world.teammate.user).first()
    if existing is not None:
        return existing
    chatbot = Chatbot.objects.get(account=world.owner.account, name="support")
    chat = Chat.objects.create(
        session_key="teammate-session-0001",
        account=world.owner.account,
        chatbot=chatbot,
        channel="api",
        user=world.teammate.user,
        api_key=world.teammate.api_key,
    )
    turn = Turn.objects.create(chat=chat, index=1, provider="offline", model="smarter-offline")
    ChatMessage.objects.create(chat=chat, turn=turn, sequence=1, role="user", content="What does a Gobstopper cost?")
    ChatMessage.objects.create(chat=chat, turn=turn, sequence=2, role="assistant", content="$1.99")
    ToolCall.objects.create(
        turn=turn, chat=chat, round=1, call_id="call_1", tool_name="everlasting_gobstopper",
        plugin_name="everlasting_gobstopper", arguments={"inquiry_type": "price"}, result="$1.99",
    )  # fmt: skip
    PluginSelection.objects.create(
        turn=turn,
        chat=chat,
        plugin_name="everlasting_gobstopper",
        selected=True,
        rule="search_terms",
        term="gobstopper",
    )
    return chat


# Every kind → how Acme's example of it is made. Order matters: a kind after the kinds it names.
EXAMPLES: dict[str, Callable[[World], Resource]] = {
    "Account": _account,
    "User": _user,
    "ApiKey": _api_key,
    "Secret": _secret,
    "Provider": _provider,
    "KnowledgeBase": _example("KnowledgeBase"),
    "SqlConnection": _example("SqlConnection"),
    "ApiConnection": _api_connection,
    "Plugin": _example("Plugin"),
    "SqlPlugin": _example("SqlPlugin"),
    "ApiPlugin": _example("ApiPlugin"),
    "KnowledgePlugin": _example("KnowledgePlugin"),  # names the KnowledgeBase example: after it
    "Chatbot": _example("Chatbot"),
    "TestSuite": _example("TestSuite"),  # names the Chatbot example: after it
    "Channel": _example("Channel"),  # names the Chatbot example: after it
    "Chat": _chat_kind("Chat"),
    "ChatHistory": _chat_kind("ChatHistory"),
    "ChatToolCall": _chat_kind("ChatToolCall"),
    "ChatPluginUsage": _chat_kind("ChatPluginUsage"),
}


def build_world(owner: Persona, teammate: Persona, api_base_url: str) -> World:
    world = World(owner=owner, teammate=teammate, api_base_url=api_base_url, resources={})
    missing = sorted(set(registered_kinds()) - set(EXAMPLES))
    assert not missing, f"kinds with no example in the tenancy matrix: {missing}"
    for kind, make in EXAMPLES.items():
        world.resources[kind] = make(world)
    # The example chatbot attaches the example plugin: chats and plugin tests have something to run.
    chatbot_document = dict(world.resources["Chatbot"].manifest or {})
    chatbot_document["spec"] = {**chatbot_document["spec"], "plugins": ["everlasting_gobstopper"]}
    as_owner(world, chatbot_document)
    world.resources["Chatbot"].manifest = chatbot_document
    return world
