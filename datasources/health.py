"""Health checks of datasources: run the engine's check, record it, derive the status, notify.

The state lives in the ``health_checks`` rows, not in memory, so it survives restarts and is
the same on every worker:

* a check that passes makes the datasource ``healthy`` (``warning`` when the check passed but
  reported a warning, such as a nearly full disk);
* a failed check makes it ``warning``; ``FAILURES_FOR_CRITICAL`` failures in a row make it
  ``critical``;
* the failure that completes that run of ``FAILURES_FOR_CRITICAL`` creates one
  ``connection_lost`` notification; the next passing check after it creates one
  ``connection_restored``.

The rows of one datasource are written under a lock on its row, so two checks of the same
datasource at once (the periodic run and ``manage.py healthcheck``) cannot both send the alert.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from datasources.engines.base import HealthResult
from datasources.engines.process import mask
from datasources.models import Datasource, HealthCheck
from notifications.models import EntityType, NotificationType, Severity
from notifications.service import notify

logger = logging.getLogger(__name__)

#: Seconds a single check may take before it counts as ``timeout``. The beat runs every
#: 5 minutes and the health queue serves 10 checks at once, so 10 s keeps a run of even a few
#: hundred datasources well inside its period.
CHECK_TIMEOUT_SECONDS = 10.0
#: Failed checks in a row that make a datasource ``critical`` and send ``connection_lost``.
FAILURES_FOR_CRITICAL = 3
#: ``health_checks`` rows older than this are deleted by the periodic run.
HISTORY_RETENTION_DAYS = 30

OK = HealthCheck.Status.OK


def _run_engine_check(datasource: Datasource, timeout: float) -> HealthResult:
    """The engine's result; a type without a check, or a bug in one, is an ``error`` row
    rather than an exception that would stop the run for every other datasource."""
    config = datasource.connection_config
    secrets = [str(config.get(key) or "") for key in datasource.engine.secret_fields]
    try:
        result = datasource.engine().check_health(config, timeout)
    except NotImplementedError as exc:
        return HealthResult("error", error_message=str(exc))
    except Exception as exc:
        message = mask(f"The health check failed: {type(exc).__name__}: {exc}", secrets)
        # Not logger.exception: the traceback would repeat the unmasked exception text.
        logger.error("Health check of datasource %s: %s", datasource.pk, message)
        return HealthResult("error", error_message=message)
    result.error_message = mask(result.error_message, secrets)
    return result


def consecutive_failures(statuses: Sequence[str]) -> int:
    """How many of ``statuses`` (newest first) are failures before the first ``ok``."""
    count = 0
    for status in statuses:
        if status == OK:
            break
        count += 1
    return count


def _derive_status(result: HealthResult, failures: int) -> Datasource.Status:
    if result.status == OK:
        return Datasource.Status.WARNING if result.warning else Datasource.Status.HEALTHY
    if failures >= FAILURES_FOR_CRITICAL:
        return Datasource.Status.CRITICAL
    return Datasource.Status.WARNING


def _notify_transition(datasource: Datasource, check: HealthCheck, recent: Sequence[str]) -> None:
    """``recent`` are the newest statuses, this check first, at most one more than the run
    length that matters: that is enough to tell the 3rd failure from the 4th."""
    failures = consecutive_failures(recent)
    if check.status != OK and failures == FAILURES_FOR_CRITICAL:
        notify(
            NotificationType.CONNECTION_LOST,
            Severity.CRITICAL,
            f"Connection to {datasource.name} lost",
            f"{FAILURES_FOR_CRITICAL} health checks in a row failed. "
            f"Last error ({check.status}): {check.error_message or 'none given'}",
            entity_type=EntityType.DATASOURCE,
            entity_id=datasource.pk,
            metadata={"health_check_id": str(check.pk), "status": check.status},
        )
    elif check.status == OK and consecutive_failures(recent[1:]) >= FAILURES_FOR_CRITICAL:
        notify(
            NotificationType.CONNECTION_RESTORED,
            Severity.INFO,
            f"Connection to {datasource.name} restored",
            "The datasource answers health checks again.",
            entity_type=EntityType.DATASOURCE,
            entity_id=datasource.pk,
            metadata={"health_check_id": str(check.pk), "latency_ms": check.latency_ms},
        )


def check_datasource(
    datasource: Datasource, *, timeout: float = CHECK_TIMEOUT_SECONDS
) -> HealthCheck:
    """Check one datasource now, record the result and update its status.

    The engine's check runs outside any transaction (it may take ``timeout`` seconds); the
    writes that follow run in one, under a lock on the datasource's row.
    """
    result = _run_engine_check(datasource, timeout)
    with transaction.atomic():
        # The lock serialises concurrent checks of this datasource; only status columns are
        # written, so an edit of its settings made meanwhile is not overwritten.
        Datasource.objects.select_for_update().filter(pk=datasource.pk).values("pk").first()
        now = timezone.now()
        check = HealthCheck.objects.create(
            datasource=datasource,
            checked_at=now,
            status=result.status,
            latency_ms=result.latency_ms,
            error_message=result.error_message or result.warning or None,
            metadata=result.metadata,
        )
        recent = list(
            HealthCheck.objects.filter(datasource=datasource)
            .order_by("-checked_at")
            .values_list("status", flat=True)[: FAILURES_FOR_CRITICAL + 1]
        )
        status = _derive_status(result, consecutive_failures(recent))
        Datasource.objects.filter(pk=datasource.pk).update(status=status, last_health_check_at=now)
        datasource.status = status
        datasource.last_health_check_at = now
        _notify_transition(datasource, check, recent)
    if check.status != OK:
        logger.warning(
            "Datasource %s (%s) health check: %s: %s",
            datasource.name,
            datasource.pk,
            check.status,
            check.error_message,
        )
    return check


def prune_health_checks(now: datetime | None = None) -> int:
    """Delete ``health_checks`` rows older than ``HISTORY_RETENTION_DAYS``; return how many.

    A datasource checked every few minutes always keeps far more recent rows than the failure
    count needs, so pruning never changes its derived state.
    """
    cutoff = (now or timezone.now()) - timedelta(days=HISTORY_RETENTION_DAYS)
    deleted, _ = HealthCheck.objects.filter(checked_at__lt=cutoff).delete()
    return deleted
