"""The admin's index page is the dashboard: the theme calls ``dashboard_callback`` (named in
``UNFOLD["DASHBOARD_CALLBACK"]``) for its context, and the "running now" panel refreshes
itself from ``running_now``. The numbers come from ``executions.dashboard``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from executions.dashboard import CRITICAL_PERCENT, STRIP_DAYS, WARNING_PERCENT, dashboard
from executions.dashboard import running_now as running_executions
from executions.dashboard.strips import LEGEND, JobStrip, SizeChart

#: Seconds between two refreshes of the "running now" panel while something runs.
POLL_SECONDS = 2


def strip_cells(strip: JobStrip) -> SafeString:
    """A strip's day cells as markup: rendered here in one pass rather than by a template
    loop, which costs more than the rest of the dashboard for hundreds of cells."""
    return format_html_join(
        "",
        '<a href="{}" data-day="{}" data-status="{}" title="{}" '
        'class="grow h-6 hover:opacity-50 {}"></a>',
        ((c.url, c.day.isoformat(), c.status, c.title, c.css) for c in strip.cells),
    )


def _polling() -> dict[str, Any]:
    return {"running_url": reverse("dashboard-running-now"), "poll_seconds": POLL_SECONDS}


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's context, added to the theme's."""
    context.update(dashboard(timezone.now()))  # "running" among them
    context["strips"] = [(strip, strip_cells(strip)) for strip in context["strips"]]
    context.update(_polling())
    context.update(
        {
            "strip_days": STRIP_DAYS,
            "legend": LEGEND,
            "chart_width": SizeChart.WIDTH,
            "chart_height": SizeChart.HEIGHT,
            "warning_percent": WARNING_PERCENT,
            "critical_percent": CRITICAL_PERCENT,
            "viewer_zone": settings.TIME_ZONE,
        }
    )
    return context


@require_GET
@never_cache
@staff_member_required
def running_now(request: HttpRequest) -> TemplateResponse:
    """The "running now" panel alone, which the dashboard polls while it lists anything."""
    context = {"running": running_executions(timezone.now()), **_polling()}
    return TemplateResponse(request, "admin/dashboard/running_now.html", context)
