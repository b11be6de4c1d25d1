"""Helpers of the scheduler tests: due jobs at a fixed clock, and the messages queued in Redis."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from typing import Any

import redis

from jobs.models import BackupJob
from tests.factories import BackupJobFactory

NOW = datetime(2026, 6, 15, 12, 0, 30, tzinfo=UTC)


def make_due_job(slot: datetime, **fields: Any) -> BackupJob:
    """An enabled job whose next slot is ``slot`` (written past ``save`` on purpose: it
    recomputes from the real clock)."""
    job = BackupJobFactory.create(schedule_cron="0 * * * *", schedule_timezone="UTC", **fields)
    BackupJob.objects.filter(pk=job.pk).update(next_execution_at=slot)
    job.refresh_from_db()
    return job


def queued_messages(client: redis.Redis, key: str) -> list[dict[str, Any]]:
    """The Celery messages waiting in a Redis queue list (``backups``, ``backups:5``)."""
    return [json.loads(raw) for raw in client.lrange(key, 0, -1)]


def message_ids(client: redis.Redis, key: str) -> list[str]:
    """The execution ids the messages in ``key`` carry."""
    return [ast.literal_eval(m["headers"]["argsrepr"])[0] for m in queued_messages(client, key)]
