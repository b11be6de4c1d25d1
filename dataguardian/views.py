"""System endpoints that need no login."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _check_database() -> dict[str, object]:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "down"; the type says enough, never the text
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "up", "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def _check_broker() -> dict[str, object]:
    from dataguardian.celery import app

    started = time.monotonic()
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "up", "latency_ms": round((time.monotonic() - started) * 1000, 1)}


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and compose: database and broker reachability. Public, so it
    says nothing secret: no URLs, hosts or error texts."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(c["status"] == "up" for c in checks.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "mode": "embedded" if settings.EMBEDDED else "server",
        **checks,
    }
    return JsonResponse(body, status=200 if healthy else 503)
