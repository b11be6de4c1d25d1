from django.contrib import admin
from django.urls import path

from dataguardian import views

admin.site.site_header = "DataGuardian"
admin.site.site_title = "DataGuardian"
admin.site.index_title = "Backups"

urlpatterns = [
    path("health", views.health, name="health"),
    path("health/", views.health),
    path("admin/", admin.site.urls),
]
