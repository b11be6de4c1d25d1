"""The admin's sidebar, grouped by what an operator does, and the callbacks its badges call."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse_lazy
from django.utils.text import format_lazy


def _item(title: str, icon: str, url_name: str, **extra: Any) -> dict[str, Any]:
    return {"title": title, "icon": icon, "link": reverse_lazy(url_name), **extra}


def _changelist(title: str, icon: str, model: str, **extra: Any) -> dict[str, Any]:
    app_label, model_name = model.split(".")
    return _item(title, icon, f"admin:{app_label}_{model_name}_changelist", **extra)


SIDEBAR: dict[str, Any] = {
    "show_search": False,
    "show_all_applications": False,
    "navigation": [
        {
            "title": "Overview",
            "items": [_item("Dashboard", "dashboard", "admin:index")],
        },
        {
            "title": "Sources",
            "items": [
                _changelist("Datasources", "database", "datasources.datasource"),
                _changelist("Health checks", "monitor_heart", "datasources.healthcheck"),
            ],
        },
        {
            "title": "Storage",
            "items": [_changelist("Storage locations", "hard_drive", "storage.storagelocation")],
        },
        {
            "title": "Jobs",
            "items": [_changelist("Backup jobs", "schedule", "jobs.backupjob")],
        },
        {
            "title": "Runs",
            "items": [
                _changelist("Executions", "history", "executions.backupexecution"),
                _changelist("Chunks", "view_module", "executions.backupchunk"),
            ],
        },
        {
            "title": "Notifications",
            "items": [
                _changelist("Notifications", "notifications", "notifications.notification"),
                {
                    "title": "Unread",
                    "icon": "mark_email_unread",
                    "link": format_lazy(
                        "{}?read=no", reverse_lazy("admin:notifications_notification_changelist")
                    ),
                },
                _changelist("Channels", "campaign", "notifications.notificationchannel"),
                _changelist("Deliveries", "outgoing_mail", "notifications.delivery"),
            ],
        },
        {
            "title": "Settings",
            "collapsible": True,
            "items": [
                _changelist("System settings", "tune", "core.systemsetting"),
                _changelist("Users", "person", "auth.user"),
                _changelist("Groups", "group", "auth.group"),
                _changelist("API tokens", "key", "authtoken.tokenproxy"),
                _changelist("Periodic tasks", "event_repeat", "django_celery_beat.periodictask"),
                _changelist("Crontabs", "calendar_month", "django_celery_beat.crontabschedule"),
                _changelist("Intervals", "timer", "django_celery_beat.intervalschedule"),
                _changelist("Clocked", "alarm", "django_celery_beat.clockedschedule"),
                _changelist("Solar events", "wb_twilight", "django_celery_beat.solarschedule"),
            ],
        },
    ],
}


def unread_badge() -> str | None:
    """The number of unread notifications, counted up to a cap so the query stays bounded."""
    from notifications.context import CAP, unread_count

    count = unread_count()
    if not count:
        return None
    return f"{CAP - 1}+" if count >= CAP else str(count)


def sidebar(request: HttpRequest) -> dict[str, Any]:
    """The sidebar for this request: the theme reads it through this dotted path in
    ``UNFOLD``, so the settings import nothing of the project's. The "Unread" entry carries
    the unread count, or no badge when there is none."""
    # The theme asks for the sidebar several times while rendering one page: count once.
    if not hasattr(request, "_unread_badge"):
        request._unread_badge = unread_badge()  # type: ignore[attr-defined]
    badge = request._unread_badge  # type: ignore[attr-defined]
    groups = []
    for group in SIDEBAR["navigation"]:
        items = [
            {**item, "badge": badge} if item["title"] == "Unread" and badge else item
            for item in group["items"]
        ]
        groups.append({**group, "items": items})
    return {**SIDEBAR, "navigation": groups}


def favicon(request: HttpRequest) -> str:
    """The tab icon's address (``UNFOLD["SITE_FAVICONS"]``), from the static files."""
    from django.templatetags.static import static

    return static("dataguardian/favicon.svg")
