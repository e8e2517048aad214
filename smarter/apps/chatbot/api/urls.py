"""`/api/v1/chatbots/`: REST routes of the chatbot app (a chatbot's configuration versions)."""

from django.urls import re_path

from smarter.apps.chatbot.api import versions

# A chatbot's name in a path (the manifest's own rule for `metadata.name`).
CHATBOT = r"(?P<name>[a-z][a-z0-9_]{0,49})"
VERSION = r"(?P<number>[0-9]{1,9})"

urlpatterns = [
    re_path(rf"^{CHATBOT}/versions/?$", versions.VersionsView.as_view(), name="chatbot-versions"),
    re_path(rf"^{CHATBOT}/versions/{VERSION}/?$", versions.VersionView.as_view()),
    re_path(
        rf"^{CHATBOT}/versions/{VERSION}/diff/(?P<other>[0-9]{{1,9}})/?$",
        versions.VersionDiffView.as_view(),
    ),
    re_path(rf"^{CHATBOT}/versions/{VERSION}/rollback/?$", versions.RollbackView.as_view()),
]
