from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core import api as core_api
from dataguardian import api, dashboard, metrics, views
from datasources.api import DatasourceViewSet
from executions.api import ExecutionViewSet
from executions.job_api import JobViewSet
from notifications.api import DeliveryViewSet, NotificationChannelViewSet, NotificationViewSet
from storage.api import StorageLocationViewSet

admin.site.site_header = "DataGuardian"
admin.site.site_title = "DataGuardian"
admin.site.index_title = "Dashboard"

router = core_api.router()
router.register("datasources", DatasourceViewSet, basename="datasource")
router.register("storage-locations", StorageLocationViewSet, basename="storage-location")
router.register("backup-jobs", JobViewSet, basename="backup-job")
router.register("executions", ExecutionViewSet, basename="execution")
router.register("notifications", NotificationViewSet, basename="notification")
router.register(
    "notification-channels", NotificationChannelViewSet, basename="notification-channel"
)
router.register("notification-deliveries", DeliveryViewSet, basename="notification-delivery")


def slash_optional(route: str, view: Callable[..., Any], name: str) -> URLPattern:
    """``route`` with or without a trailing slash, as the router's routes (``reverse`` gives
    the form without)."""
    return re_path(rf"^{route}/?$", view, name=name)


api_urls: list[URLPattern | URLResolver] = [
    slash_optional("auth/token", api.TokenView.as_view(), "api-token"),
    slash_optional("health", api.HealthView.as_view(), "api-health"),
    slash_optional("system/settings", api.SettingsView.as_view(), "api-settings"),
    slash_optional("system/stats", api.StatsView.as_view(), "api-stats"),
    slash_optional("system/recoverability", api.RecoverabilityView.as_view(), "api-recoverability"),
    slash_optional("schema", SpectacularAPIView.as_view(), "api-schema"),
    slash_optional("docs", SpectacularSwaggerView.as_view(url_name="api-schema"), "api-docs"),
    path("", include(router.urls)),
]

handler404 = "core.api.not_found"

urlpatterns = [
    # The site has no pages of its own: its root is the admin's dashboard.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="root"),
    slash_optional("health", views.health, "health"),
    slash_optional("metrics", metrics.metrics, "metrics"),
    path("admin/dashboard/running-now/", dashboard.running_now, name="dashboard-running-now"),
    path("admin/", admin.site.urls),
    # The API's root (the router's) at /api as at /api/, like every path below it.
    path("api", router.get_api_root_view()),
    path("api/", include(api_urls)),
]
