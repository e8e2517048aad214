"""Root URLs: the API under /api/, operations probes, the admin, the console."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from smarter.apps.api import views as api_views

urlpatterns = [
    path("healthz", api_views.healthz, name="healthz"),
    path("healthz/", api_views.healthz),
    path("readyz", api_views.readyz, name="readyz"),
    path("readyz/", api_views.readyz),
    path("metrics", api_views.metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("smarter.apps.api.urls")),
    path("", include("smarter.apps.channels.urls")),
    path("admin/", admin.site.urls),
    path("", include("smarter.apps.dashboard.urls")),
]

handler404 = "smarter.lib.http.errors.handler404"
handler500 = "smarter.lib.http.errors.handler500"
