"""Celery tasks of datasources.

``run_health_checks`` is implemented by the scheduling, retention, health checks and cleanup
issue; until then beat calls it and it logs and returns.
"""

from __future__ import annotations

import logging

from celery import shared_task

from dataguardian.queues import HEALTH

logger = logging.getLogger(__name__)


@shared_task(**HEALTH.task_options())
def run_health_checks() -> None:
    logger.info("run_health_checks: health checks are not built yet")
