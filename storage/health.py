"""Health checks of storage locations: reachability, free space, status, notifications.

Works with any adapter through its contract only: ``test_connection()`` says whether the
location can be reached and written, ``usage()`` how much room is left (``None`` for object
stores, which have no such notion).

Status:

* ``unreachable`` when ``test_connection()`` or ``usage()`` raises a ``StorageError`` other
  than ``StorageFull`` (host down, credentials refused, path missing, permission denied, …);
* ``full`` when they raise ``StorageFull``, or when the available bytes are below
  ``full_threshold_bytes`` (the smaller of ``FULL_BELOW_BYTES`` and ``FULL_BELOW_FRACTION`` of
  used + available, so a location with a small ``max_size_gb`` quota is not "full" from the
  start);
* ``healthy`` otherwise.

A location no check has looked at yet is ``unknown`` (the model's default); a check never sets
it.

A notification is created only on a transition into ``full`` (``storage_full``) or into
``unreachable`` (``storage_unreachable``), not on every check that finds the same state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from notifications.models import EntityType, NotificationType, Severity
from notifications.service import notify
from storage.adapters.base import StorageAdapter, StorageError, StorageFull, StorageUsage
from storage.models import StorageLocation

logger = logging.getLogger(__name__)

#: A location with less than this many bytes available is ``full`` (a nightly dump of a
#: mid-sized database does not fit in less)…
FULL_BELOW_BYTES = 1024**3
#: …unless that is more than this share of its capacity (used + available), which is what a
#: small ``max_size_gb`` quota gives.
FULL_BELOW_FRACTION = 0.02
#: ``available_space_gb`` counts binary gigabytes, as ``max_size_gb`` does.
BYTES_PER_GB = 1024**3

Status = StorageLocation.Status


@dataclass(frozen=True)
class LocationCheck:
    """What one check of a storage location found."""

    status: StorageLocation.Status
    available_bytes: int | None
    message: str
    notified: bool


def full_threshold_bytes(usage: StorageUsage) -> int:
    """Fewer available bytes than this make the location ``full``."""
    available = usage.available_bytes or 0
    capacity = usage.used_bytes + available
    return min(FULL_BELOW_BYTES, int(capacity * FULL_BELOW_FRACTION))


def _probe(adapter: StorageAdapter) -> tuple[Status, StorageUsage | None, str]:
    try:
        adapter.test_connection()
        usage = adapter.usage()
    except StorageFull as exc:
        return Status.FULL, None, str(exc)
    except StorageError as exc:
        return Status.UNREACHABLE, None, str(exc)
    available = usage.available_bytes
    if available is not None and available < full_threshold_bytes(usage):
        message = f"Only {_gb(available)} GB available."
        return Status.FULL, usage, message
    return Status.HEALTHY, usage, ""


def _gb(value: int) -> Decimal:
    return (Decimal(value) / BYTES_PER_GB).quantize(Decimal("0.001"))


def _notify(location: StorageLocation, status: Status, message: str, available: int | None) -> None:
    if status == Status.FULL:
        notify(
            NotificationType.STORAGE_FULL,
            # Nothing left at all fails the next backup; little left is a warning.
            Severity.CRITICAL if not available else Severity.WARNING,
            f"Storage location {location.name} is full",
            message,
            entity_type=EntityType.STORAGE_LOCATION,
            entity_id=location.pk,
            metadata={"storage_location": location.reference(), "available_bytes": available},
        )
    else:
        notify(
            NotificationType.STORAGE_UNREACHABLE,
            Severity.CRITICAL,
            f"Storage location {location.name} is unreachable",
            message,
            entity_type=EntityType.STORAGE_LOCATION,
            entity_id=location.pk,
            metadata={"storage_location": location.reference()},
        )


def check_location(location: StorageLocation) -> LocationCheck:
    """Check one location now, store its status and available space, notify on a change.

    ``available_space_gb`` is cleared for object stores (no notion of free space) and kept at
    its last measured value while the location cannot be reached.
    """
    status, usage, message = _probe(location.adapter(location.config))
    if status != Status.HEALTHY:
        logger.warning(
            "Storage location %s (%s) is %s: %s", location.name, location.pk, status, message
        )
    available = usage.available_bytes if usage is not None else None
    with transaction.atomic():
        # The lock makes the "previous status" read and the update one step, so two checks at
        # once notify a transition only once.
        previous = (
            StorageLocation.objects.select_for_update()
            .filter(pk=location.pk)
            .values_list("status", flat=True)
            .first()
        )
        rows = StorageLocation.objects.filter(pk=location.pk)
        location.status = status
        if usage is None:
            rows.update(status=status)
        else:
            location.available_space_gb = None if available is None else _gb(available)
            rows.update(status=status, available_space_gb=location.available_space_gb)
        notified = status != Status.HEALTHY and status != previous
        if notified:
            _notify(location, status, message, available)
    return LocationCheck(status, available, message, notified)
