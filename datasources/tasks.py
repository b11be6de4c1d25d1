"""Celery tasks of datasources: the periodic health run and the check of one datasource.

``run_health_checks`` (beat, every 5 minutes) prunes old ``health_checks`` rows and sends one
``check_datasource`` per enabled datasource to the health queue, whose worker runs 10 at once;
a slow or silent server therefore delays only its own check. The checks never raise for a
failing datasource (the failure is the result they record), so nothing here is retried.
"""

from __future__ import annotations

import logging

from celery import shared_task

from core.queues import HEALTH
from datasources import health
from datasources.models import Datasource

logger = logging.getLogger(__name__)


@shared_task(**HEALTH.task_options())
def run_health_checks() -> None:
    pruned = health.prune_health_checks()
    if pruned:
        logger.info(
            "Deleted %d health checks older than %d days", pruned, health.HISTORY_RETENTION_DAYS
        )
    ids = list(Datasource.objects.filter(enabled=True).values_list("pk", flat=True))
    for pk in ids:
        check_datasource.delay(str(pk))
    logger.info("Sent health checks of %d enabled datasources", len(ids))


@shared_task(**HEALTH.task_options())
def check_datasource(datasource_id: str) -> None:
    datasource = Datasource.objects.filter(pk=datasource_id, enabled=True).first()
    if datasource is None:
        # Deleted or disabled since the run was sent.
        logger.info("Datasource %s is gone or disabled; not checked", datasource_id)
        return
    health.check_datasource(datasource)
