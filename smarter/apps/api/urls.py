from django.urls import include, path, re_path

from smarter.apps.api import views

urlpatterns = [
    path("v1/cli/", include("smarter.apps.api.cli.urls")),
    re_path(r"^v1/journal/?$", views.JournalView.as_view(), name="api-journal"),
]
