"""`/api/v1/`: each app's REST routes are included here; the door only routes."""

from django.urls import include, path, re_path

from smarter.apps.api import views

urlpatterns = [
    path("v1/cli/", include("smarter.apps.api.cli.urls")),
    re_path(r"^v1/journal/?$", views.JournalView.as_view(), name="api-journal"),
    path("v1/plugins/", include("smarter.apps.plugin.api.urls")),
]
