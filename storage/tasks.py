"""Celery tasks of storage.

``check_storage_locations`` is implemented by the remote storage issue (usage and status of
every location); until then beat calls it and it logs and returns.
"""

from __future__ import annotations

import logging

from celery import shared_task

from dataguardian.queues import HEALTH

logger = logging.getLogger(__name__)


@shared_task(**HEALTH.task_options())
def check_storage_locations() -> None:
    logger.info("check_storage_locations: storage checks are not built yet")
