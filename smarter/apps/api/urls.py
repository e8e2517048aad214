"""`/api/v1/`: each app's REST routes are included here; the door only routes."""

from django.urls import include, path, re_path

from smarter.apps.api import chat_views, openai_views, usage_views, version_views, views

CHATBOT = r"(?P<name>[a-z][a-z0-9_]{0,49})"

urlpatterns = [
    path("v1/cli/", include("smarter.apps.api.cli.urls")),
    re_path(r"^v1/journal/?$", views.JournalView.as_view(), name="api-journal"),
    re_path(r"^v1/usage/?$", usage_views.UsageView.as_view(), name="api-usage"),
    path("v1/plugins/", include("smarter.apps.plugin.api.urls")),
    re_path(rf"^v1/chatbots/{CHATBOT}/chat/?$", chat_views.chat, name="chatbot-chat"),
    re_path(rf"^v1/chatbots/{CHATBOT}/config/?$", chat_views.config, name="chatbot-config"),
    re_path(rf"^v1/chatbots/{CHATBOT}/versions/?$", version_views.VersionsView.as_view(), name="chatbot-versions"),
    re_path(rf"^v1/chatbots/{CHATBOT}/versions/(?P<number>[0-9]{{1,9}})/?$", version_views.VersionView.as_view()),
    re_path(
        rf"^v1/chatbots/{CHATBOT}/versions/(?P<number>[0-9]{{1,9}})/diff/(?P<other>[0-9]{{1,9}})/?$",
        version_views.VersionDiffView.as_view(),
    ),
    re_path(
        rf"^v1/chatbots/{CHATBOT}/versions/(?P<number>[0-9]{{1,9}})/rollback/?$", version_views.RollbackView.as_view()
    ),
    re_path(r"^v1/openai/chat/completions/?$", openai_views.chat_completions, name="openai-chat-completions"),
    re_path(r"^v1/openai/models/?$", openai_views.models, name="openai-models"),
]
