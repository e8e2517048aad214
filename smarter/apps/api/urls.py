"""`/api/v1/`: the door mounts each app's REST routes (and its own cli verbs); it only routes."""

from django.urls import include, path

urlpatterns = [
    path("v1/cli/", include("smarter.apps.api.cli.urls")),
    path("v1/", include("smarter.apps.account.api.urls")),
    path("v1/plugins/", include("smarter.apps.plugin.api.urls")),
    path("v1/chatbots/", include("smarter.apps.chatbot.api.urls")),
    path("v1/knowledge/", include("smarter.apps.knowledge.api.urls")),
    path("v1/evals/", include("smarter.apps.evaluation.api.urls")),
    path("v1/channels/", include("smarter.apps.channels.api.urls")),
    path("v1/openai/", include("smarter.apps.knowledge.api.openai_urls")),
    path("v1/", include("smarter.apps.chat.api.urls")),
]
