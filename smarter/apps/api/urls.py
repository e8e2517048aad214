"""`/api/v1/`: each app's REST routes are included here; the door only routes."""

from django.urls import include, path, re_path

from smarter.apps.api import chat_views, openai_views, views

urlpatterns = [
    path("v1/cli/", include("smarter.apps.api.cli.urls")),
    re_path(r"^v1/journal/?$", views.JournalView.as_view(), name="api-journal"),
    path("v1/plugins/", include("smarter.apps.plugin.api.urls")),
    re_path(r"^v1/chatbots/(?P<name>[a-z][a-z0-9_]{0,49})/chat/?$", chat_views.chat, name="chatbot-chat"),
    re_path(r"^v1/chatbots/(?P<name>[a-z][a-z0-9_]{0,49})/config/?$", chat_views.config, name="chatbot-config"),
    re_path(r"^v1/openai/chat/completions/?$", openai_views.chat_completions, name="openai-chat-completions"),
    re_path(r"^v1/openai/models/?$", openai_views.models, name="openai-models"),
]
