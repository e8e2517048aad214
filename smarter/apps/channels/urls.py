"""The channels door's URLs, mounted at the root: `/webhooks/<id>/` (API.md, "Channels")."""

from django.urls import re_path

from smarter.apps.channels import webhooks

urlpatterns = [
    re_path(r"^webhooks/(?P<public_id>[A-Za-z0-9_-]{8,32})/?$", webhooks.webhook, name="channel-webhook"),
]
