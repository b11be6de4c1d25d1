"""Health checks of datasources: run the engine's check, record it, derive the status, notify.

The state lives in the ``health_checks`` rows, not in memory, so it survives restarts and is
the same on every worker:

* a check that passes makes the datasource ``healthy`` (``warning`` when the check passed but
  reported a warning, such as a nearly full disk, or was slow: above half its timeout);
* a failed check makes it ``warning``; ``FAILURES_FOR_CRITICAL`` failures in a row make it
  ``critical``;
* the check that moves it from ``healthy`` or ``unknown`` to ``warning`` creates one
  ``health_degraded`` notification;
* the failure that completes that run of ``FAILURES_FOR_CRITICAL`` creates one
  ``connection_lost`` notification; the next passing check after it creates one
  ``connection_restored``.

Every notification carries ``metadata["datasource"]`` (id, name, tags), which channel rules
scope by.

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
#: A passing check that took more than this part of its timeout is slow: the datasource is
#: ``warning``. A PostgreSQL or MySQL check answers in tens of milliseconds on a LAN and a few
#: hundred across a WAN; one that uses up half its budget is a timeout waiting to happen (an
#: overloaded server, a saturated link), which is worth a look before it fails.
SLOW_CHECK_FRACTION = 0.5
#: The slow threshold with the default timeout (``CHECK_TIMEOUT_SECONDS``): 5000 ms.
SLOW_CHECK_MS = round(CHECK_TIMEOUT_SECONDS * 1000 * SLOW_CHECK_FRACTION)
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


def slow_check_ms(timeout: float) -> int:
    """Milliseconds above which a passing check with this ``timeout`` (seconds) is slow."""
    return round(timeout * 1000 * SLOW_CHECK_FRACTION)


def _is_slow(result: HealthResult, slow_ms: int) -> bool:
    return result.status == OK and result.latency_ms is not None and result.latency_ms > slow_ms


def _derive_status(result: HealthResult, failures: int, slow_ms: int) -> Datasource.Status:
    if result.status == OK:
        degraded = bool(result.warning) or _is_slow(result, slow_ms)
        return Datasource.Status.WARNING if degraded else Datasource.Status.HEALTHY
    if failures >= FAILURES_FOR_CRITICAL:
        return Datasource.Status.CRITICAL
    return Datasource.Status.WARNING


def _notify_transition(
    datasource: Datasource,
    check: HealthCheck,
    recent: Sequence[str],
    change: tuple[str | None, Datasource.Status],
    slow_ms: int,
) -> None:
    """``recent`` are the newest statuses, this check first, at most one more than the run
    length that matters: that is enough to tell the 3rd failure from the 4th. ``change`` is
    the datasource's status before this check and after it."""
    failures = consecutive_failures(recent)
    before, after = change
    scope = {"datasource": datasource.reference(), "health_check_id": str(check.pk)}
    if check.status != OK and failures == FAILURES_FOR_CRITICAL:
        notify(
            NotificationType.CONNECTION_LOST,
            Severity.CRITICAL,
            f"Connection to {datasource.name} lost",
            f"{FAILURES_FOR_CRITICAL} health checks in a row failed. "
            f"Last error ({check.status}): {check.error_message or 'none given'}",
            entity_type=EntityType.DATASOURCE,
            entity_id=datasource.pk,
            metadata={**scope, "status": check.status},
        )
    elif check.status == OK and consecutive_failures(recent[1:]) >= FAILURES_FOR_CRITICAL:
        notify(
            NotificationType.CONNECTION_RESTORED,
            Severity.INFO,
            f"Connection to {datasource.name} restored",
            "The datasource answers health checks again.",
            entity_type=EntityType.DATASOURCE,
            entity_id=datasource.pk,
            metadata={**scope, "latency_ms": check.latency_ms},
        )
    if after == Datasource.Status.WARNING and before in DEGRADES_FROM:
        reason, message = _degraded_reason(check, slow_ms)
        notify(
            NotificationType.HEALTH_DEGRADED,
            Severity.WARNING,
            f"Health of {datasource.name} degraded",
            message,
            entity_type=EntityType.DATASOURCE,
            entity_id=datasource.pk,
            metadata={
                **scope,
                "reason": reason,
                "status": check.status,
                "latency_ms": check.latency_ms,
                "slow_above_ms": slow_ms,
            },
        )


#: The statuses a move into ``warning`` from raises ``health_degraded`` (from ``critical`` it
#: is a partial recovery, and ``connection_lost`` was raised on the way there).
DEGRADES_FROM = frozenset({Datasource.Status.HEALTHY, Datasource.Status.UNKNOWN})


def _degraded_reason(check: HealthCheck, slow_ms: int) -> tuple[str, str]:
    """Why a check made the datasource ``warning``: ``partial`` (it failed, fewer than
    ``FAILURES_FOR_CRITICAL`` times in a row), ``warning`` (it passed with the engine's
    warning) or ``slow`` (it passed, above ``slow_ms``)."""
    if check.status != OK:
        return "partial", (
            f"A health check failed ({check.status}): {check.error_message or 'no message'}. "
            f"{FAILURES_FOR_CRITICAL} failures in a row make the datasource critical."
        )
    if check.error_message:  # a passing check's message is the engine's warning
        return "warning", f"The health check passed with a warning: {check.error_message}"
    return "slow", (
        f"The health check passed but took {check.latency_ms} ms; passing checks slower "
        f"than {slow_ms} ms (half their timeout) count as degraded."
    )


def check_datasource(
    datasource: Datasource, *, timeout: float = CHECK_TIMEOUT_SECONDS
) -> HealthCheck:
    """Check one datasource now, record the result and update its status.

    The engine's check runs outside any transaction (it may take ``timeout`` seconds); the
    writes that follow run in one, under a lock on the datasource's row.
    """
    result = _run_engine_check(datasource, timeout)
    slow_ms = slow_check_ms(timeout)
    with transaction.atomic():
        # The lock serialises concurrent checks of this datasource; only status columns are
        # written, so an edit of its settings made meanwhile is not overwritten.
        before = (
            Datasource.objects.select_for_update()
            .filter(pk=datasource.pk)
            .values_list("status", flat=True)
            .first()
        )
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
        status = _derive_status(result, consecutive_failures(recent), slow_ms)
        Datasource.objects.filter(pk=datasource.pk).update(status=status, last_health_check_at=now)
        datasource.status = status
        datasource.last_health_check_at = now
        _notify_transition(datasource, check, recent, (before, status), slow_ms)
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
