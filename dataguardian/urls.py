from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core import api as core_api
from dataguardian import api, views
from datasources.api import DatasourceViewSet
from executions.api import ExecutionViewSet
from executions.job_api import JobViewSet
from notifications.api import DeliveryViewSet, NotificationChannelViewSet, NotificationViewSet
from storage.api import StorageLocationViewSet

admin.site.site_header = "DataGuardian"
admin.site.site_title = "DataGuardian"
admin.site.index_title = "Backups"

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

api_urls: list[URLPattern | URLResolver] = [
    path("auth/token", api.TokenView.as_view(), name="api-token"),
    path("health", api.HealthView.as_view(), name="api-health"),
    path("system/settings", api.SettingsView.as_view(), name="api-settings"),
    path("system/stats", api.StatsView.as_view(), name="api-stats"),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(router.urls)),
]

handler404 = "core.api.not_found"

urlpatterns = [
    path("health", views.health, name="health"),
    path("health/", views.health),
    path("admin/", admin.site.urls),
    path("api/", include(api_urls)),
]
