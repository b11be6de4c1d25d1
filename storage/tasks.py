"""Celery tasks of storage.

``check_storage_locations`` (beat) checks every location's reachability and free space; see
``storage.health``.
"""

from __future__ import annotations

import logging

from celery import shared_task

from core.queues import HEALTH
from storage.health import check_location
from storage.models import StorageLocation

logger = logging.getLogger(__name__)


@shared_task(**HEALTH.task_options())
def check_storage_locations() -> None:
    for location in StorageLocation.objects.all():
        try:
            check_location(location)
        except Exception:
            # One broken adapter must not stop the checks of the other locations.
            logger.exception("Checking storage location %s (%s) failed", location.name, location.pk)
