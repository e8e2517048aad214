"""`/api/v1/channels/`: REST routes of the channels app (its webhooks are at the root, `urls.py`)."""

from django.urls import re_path

from smarter.apps.channels.api import views

CHANNEL = r"(?P<name>[a-z][a-z0-9_]{0,49})"

urlpatterns = [
    re_path(rf"^{CHANNEL}/messages/?$", views.MessagesView.as_view(), name="channel-messages"),
]
