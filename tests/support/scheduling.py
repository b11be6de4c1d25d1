"""Helpers of the scheduler tests: due jobs at a fixed clock, and the messages they queue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobs.models import BackupJob
from tests.factories import BackupJobFactory
from tests.support.broker import Broker

NOW = datetime(2026, 6, 15, 12, 0, 30, tzinfo=UTC)


def make_due_job(slot: datetime, **fields: Any) -> BackupJob:
    """An enabled job whose next slot is ``slot`` (written past ``save`` on purpose: it
    recomputes from the real clock)."""
    job = BackupJobFactory.create(schedule_cron="0 * * * *", schedule_timezone="UTC", **fields)
    BackupJob.objects.filter(pk=job.pk).update(next_execution_at=slot)
    job.refresh_from_db()
    return job


def queued_messages(broker: Broker, key: str) -> list[dict[str, Any]]:
    """The Celery messages waiting in a queue (``backups``, ``backups:5``), oldest first."""
    return broker.messages(key)


def message_ids(broker: Broker, key: str) -> list[str]:
    """The execution ids the messages in ``key`` carry."""
    return [str(args[0]) for _, args in broker.tasks(key)]
