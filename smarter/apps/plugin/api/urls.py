"""`/api/v1/plugins/`: REST routes of the plugin app."""

from django.urls import path

from smarter.apps.plugin.api.views import PluginTestView

urlpatterns = [
    path("<slug:name>/test/", PluginTestView.as_view(), name="plugin-test"),
]
