"""Chat sessions, their messages, turns (with usage), tool calls and plugin selections."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import models
from django.utils import timezone

from smarter.apps.account.models import Account, ApiKey
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.plugin.models import Plugin


class Channel(models.TextChoices):
    """Which door opened the session."""

    API = "api", "REST API"
    CLI = "cli", "Command-line client"
    OPENAI = "openai", "OpenAI-compatible API"
    PUBLIC = "public", "Deployed chatbot"
    SANDBOX = "sandbox", "Dashboard sandbox"
    EVALUATION = "evaluation", "Evaluation run"
    WHATSAPP = "whatsapp", "WhatsApp channel"
    TWILIO = "twilio", "Twilio channel"


class Chat(models.Model):
    """A conversation with a chatbot. The database, not the client, holds its history."""

    session_key = models.CharField(max_length=64, unique=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="chats")
    chatbot = models.ForeignKey(Chatbot, on_delete=models.CASCADE, related_name="chats")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    uid = models.CharField(max_length=128, blank=True, help_text="the command-line client's machine id")
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "chatbot", "-created_at"], name="chat_recent")]

    def __str__(self) -> str:
        return f"{self.chatbot.name} {self.session_key[:8]}"


class Turn(models.Model):
    """One prompt and its answer: what was asked of which model, what it cost, how long it took."""

    class Status(models.TextChoices):
        OK = "ok", "Answered"
        ERROR = "error", "Failed"
        # The client went away mid-answer; what the model and plugins consumed is still charged.
        CANCELLED = "cancelled", "Cancelled by the client"

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="turns")
    index = models.PositiveIntegerField()
    provider = models.CharField(max_length=50)
    model = models.CharField(max_length=255)
    rounds = models.PositiveSmallIntegerField(default=1, help_text="model calls in the tool loop")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.FloatField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OK)
    error = models.CharField(max_length=2000, blank=True)
    # What was actually sent to the model on the first round (the sandbox's inspector shows it).
    request_messages = models.JSONField(default=list, blank=True)
    # `[{"document", "documentId", "chunk", "score"}]` of the chunks its knowledge plugins retrieved
    # (`citations.py`); null when none ran. Kept so a reloaded page shows an answer's sources.
    citations = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["chat_id", "index"]
        constraints = [models.UniqueConstraint(fields=["chat", "index"], name="turn_unique_index")]

    def __str__(self) -> str:
        return f"turn {self.index} of {self.chat}"


class ChatMessage(models.Model):
    """One message of the conversation, in the order the model saw it."""

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="messages")
    sequence = models.PositiveIntegerField()
    role = models.CharField(max_length=10)
    content = models.TextField(blank=True)
    tool_calls = models.JSONField(default=list, blank=True)
    tool_call_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["chat_id", "sequence"]
        constraints = [models.UniqueConstraint(fields=["chat", "sequence"], name="message_unique_sequence")]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class ToolCall(models.Model):
    """One tool the model called during a turn, with what it got back."""

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="tool_calls")
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="tool_calls")
    round = models.PositiveSmallIntegerField()
    call_id = models.CharField(max_length=128)
    tool_name = models.CharField(max_length=64)
    plugin = models.ForeignKey(Plugin, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    plugin_name = models.CharField(max_length=64, blank=True, help_text="kept when the plugin is deleted")
    arguments = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=2000, blank=True)
    executed = models.JSONField(null=True, blank=True)
    ms = models.FloatField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["turn_id", "id"]

    def __str__(self) -> str:
        return f"{self.tool_name}({self.arguments})"


class PluginSelection(models.Model):
    """Whether a chatbot's plugin was offered to the model on a turn, and why."""

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="selections")
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="selections")
    plugin = models.ForeignKey(Plugin, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    plugin_name = models.CharField(max_length=64)
    selected = models.BooleanField()
    rule = models.CharField(max_length=32)
    term = models.CharField(max_length=255, blank=True)
    matched_in = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["turn_id", "id"]

    def __str__(self) -> str:
        return f"{self.plugin_name}: {'selected' if self.selected else 'not selected'} ({self.rule})"


class Feedback(models.Model):
    """A visitor's rating of one answer (one turn of a session), and their comment. One row per
    turn: rating again replaces it; a null rating is no rating (the comment may stay)."""

    class Rating(models.TextChoices):
        UP = "up", "Thumbs up"
        DOWN = "down", "Thumbs down"

    turn = models.OneToOneField(Turn, on_delete=models.CASCADE, related_name="feedback")
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="feedback")
    rating = models.CharField(max_length=4, choices=Rating.choices, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["chat_id", "turn_id"]

    def __str__(self) -> str:
        return f"{self.rating or 'no rating'} on {self.turn}"
