"""Where a channel's webhook answers: on the platform host, as configured."""

from __future__ import annotations

from django.conf import settings

from smarter.apps.channels.models import Channel


def webhook_url(channel: Channel) -> str:
    """The URL to give the provider, built from the configured platform host and scheme (never
    from what a request saw, which a proxy in front may have rewritten)."""
    scheme = "https" if settings.SMARTER.https else "http"
    return f"{scheme}://{settings.SMARTER.platform_host}/webhooks/{channel.public_id}/"
