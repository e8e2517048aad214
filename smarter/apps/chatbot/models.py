"""Chatbots (configuration, branding, attached plugins, deployment state) and account providers."""

from __future__ import annotations

from django.db import models

from smarter.apps.account.models import Account, ApiKey, Secret, TimestampedModel
from smarter.apps.plugin.models import Plugin


class Provider(TimestampedModel):
    """An account's own OpenAI-compatible LLM endpoint, usable as a chatbot's `provider`."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="providers")
    name = models.SlugField(max_length=50)
    description = models.CharField(max_length=2000, blank=True)
    version = models.CharField(max_length=32, default="0.1.0")
    base_url = models.URLField(max_length=500)
    api_key = models.ForeignKey(Secret, on_delete=models.RESTRICT, null=True, blank=True, related_name="providers")
    default_model = models.CharField(max_length=255)
    timeout = models.PositiveIntegerField(default=60, help_text="seconds")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="provider_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Chatbot(TimestampedModel):
    """A chatbot: which model answers, with which prompt, tools and branding, and where it is deployed."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="chatbots")
    name = models.SlugField(max_length=50)
    description = models.CharField(max_length=2000, blank=True)
    version = models.CharField(max_length=32, default="0.1.0")
    tags = models.JSONField(default=list, blank=True)
    annotations = models.JSONField(default=list, blank=True)

    # The model and its prompt. `provider` is `openai`, `offline` or the name of a Provider.
    provider = models.CharField(max_length=50, blank=True)
    default_model = models.CharField(max_length=255, blank=True)
    default_system_role = models.TextField(blank=True)
    default_temperature = models.FloatField(default=0.5)
    default_max_tokens = models.PositiveIntegerField(default=1024)

    # Branding of the deployed page and widget.
    app_name = models.CharField(max_length=255, blank=True)
    app_assistant = models.CharField(max_length=255, blank=True)
    app_welcome_message = models.TextField(blank=True)
    app_example_prompts = models.JSONField(default=list, blank=True)
    app_placeholder = models.CharField(max_length=255, blank=True)
    app_info_url = models.URLField(max_length=500, blank=True)
    app_logo_url = models.URLField(max_length=500, blank=True)
    app_background_image_url = models.URLField(max_length=500, blank=True)

    # Deployment (routed by the chatbot hosts; see the deployment docs).
    subdomain = models.CharField(max_length=63, blank=True)
    # The first label of the default host (the subdomain, else the name in DNS form), kept by the
    # services so that routing a host is one indexed lookup; unique within an account.
    host_label = models.CharField(max_length=63, blank=True)
    custom_domain = models.CharField(max_length=253, blank=True)
    deployed = models.BooleanField(default=False)
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text="Origins (scheme://host[:port]) that may embed the chatbot or call it."
    )

    functions = models.JSONField(default=list, blank=True, help_text="built-in functions enabled")
    plugins = models.ManyToManyField(  # type: ignore[var-annotated]
        Plugin, through="ChatbotPlugin", related_name="chatbots", blank=True
    )
    api_key = models.ForeignKey(
        ApiKey,
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="chatbots",
        help_text="When set, the deployed chatbot's chat endpoints require this key.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="chatbot_unique_name"),
            models.UniqueConstraint(fields=["account", "host_label"], name="chatbot_unique_host_label"),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        # The services keep the label in step; this covers a row made any other way.
        if not self.host_label:
            self.host_label = (self.subdomain or self.name).replace("_", "-").lower()
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class DomainStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    VERIFIED = "verified", "Verified"
    FAILED = "failed", "Failed"


class ChatbotDomain(models.Model):
    """A custom domain claimed by a chatbot. It is routed only once a DNS TXT record
    `_smarter-challenge.<domain>` holds `token`, which proves the claimant controls the domain.

    Claiming proves nothing, so claims of one domain by several chatbots (of any accounts) may
    wait side by side, each with its own token; verification decides: the first verified claim
    owns the domain (`verified_domain`, unique, so the database holds at most one per domain), the
    others are released, and new claims of it are refused. A claim still unverified after
    `SMARTER_CUSTOM_DOMAIN_CLAIM_DAYS` is released by a periodic sweep."""

    chatbot = models.OneToOneField(Chatbot, on_delete=models.CASCADE, related_name="domain")
    domain = models.CharField(max_length=253, db_index=True)
    verified_domain = models.CharField(
        max_length=253, null=True, blank=True, unique=True, help_text="the domain, once this claim verified it"
    )
    token = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=DomainStatus.choices, default=DomainStatus.PENDING)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return f"{self.domain} ({self.status})"

    @property
    def challenge_name(self) -> str:
        return f"_smarter-challenge.{self.domain}"


class ChatbotPlugin(models.Model):
    """A plugin attached to a chatbot. A plugin in use cannot be deleted (409 names the chatbots)."""

    chatbot = models.ForeignKey(Chatbot, on_delete=models.CASCADE, related_name="attachments")
    plugin = models.ForeignKey(Plugin, on_delete=models.RESTRICT, related_name="attachments")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chatbot", "plugin"], name="chatbotplugin_unique")]
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.plugin.name} on {self.chatbot.name}"

    # How a refusal to delete the plugin names this use: "Chatbot <name>".
    kind = "Chatbot"

    @property
    def name(self) -> str:
        return self.chatbot.name


class ChatbotVersion(models.Model):
    """A saved configuration of a chatbot (its manifest spec). Every change that `apply`, the
    sandbox or a rollback makes is a new version, so any earlier one can be compared and restored."""

    chatbot = models.ForeignKey(Chatbot, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    spec = models.JSONField()
    note = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chatbot_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["chatbot", "number"], name="chatbotversion_unique_number")]

    def __str__(self) -> str:
        return f"{self.chatbot.name} v{self.number}"
