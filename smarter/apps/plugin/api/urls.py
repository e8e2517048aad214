"""`/api/v1/plugins/`: REST routes of the plugin app."""

urlpatterns: list = []
