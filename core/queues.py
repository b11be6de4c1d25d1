"""Queues and their policies (the seed's queue table), declared once.

Concurrency is per queue: `manage.py run` and docker-compose start one worker per queue with
these numbers. Retries apply to named transient errors only (see each task's
``autoretry_for``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# The task attribute that names the queue a task was declared on (``task_options``).
POLICY_ATTRIBUTE = "queue_policy"


@dataclass(frozen=True)
class QueuePolicy:
    name: str
    concurrency: int
    max_retries: int
    backoff: Literal["exponential", "fixed", "none"]
    delay_seconds: int
    # prefork for work that runs subprocesses and must be killable; threads for I/O waits.
    pool: Literal["prefork", "threads", "solo"]

    def countdown(self, retries: int) -> int:
        """Seconds to wait before retry number ``retries + 1``."""
        if self.backoff == "exponential":
            return int(self.delay_seconds * 2**retries)
        return self.delay_seconds

    def task_options(self) -> dict[str, Any]:
        """Keyword arguments for ``@shared_task`` that bind a task to this queue and apply its
        retry policy. Every task is declared with these, so a task's queue is written where
        the task is: the Celery app's router (dataguardian/celery.py) reads it back; there is no
        separate routing table."""
        options: dict[str, Any] = {POLICY_ATTRIBUTE: self.name, "max_retries": self.max_retries}
        if self.backoff == "exponential":
            options.update(
                retry_backoff=self.delay_seconds, retry_backoff_max=3600, retry_jitter=True
            )
        elif self.backoff == "fixed":
            options.update(retry_backoff=False, default_retry_delay=self.delay_seconds)
        return options


BACKUPS = QueuePolicy("backups", 3, 3, "exponential", 30, "prefork")
HEALTH = QueuePolicy("health", 10, 2, "fixed", 10, "threads")
CLEANUP = QueuePolicy("cleanup", 1, 1, "none", 0, "solo")
NOTIFICATIONS = QueuePolicy("notifications", 5, 3, "exponential", 60, "threads")
# The minute tick and the reaper: short, and never run twice at once.
SCHEDULER = QueuePolicy("scheduler", 1, 0, "none", 0, "solo")

QUEUES: dict[str, QueuePolicy] = {
    q.name: q for q in (BACKUPS, HEALTH, CLEANUP, NOTIFICATIONS, SCHEDULER)
}

# Lower number = served first (Redis priority steps 0-9).
PRIORITY_MANUAL = 0
PRIORITY_SCHEDULED = 5
# Scheduled restore tests: whatever else waits on the backups queue goes first.
PRIORITY_LOWEST = 9


def queue_of(task: Any) -> str | None:
    """The queue ``task`` was declared on, or None for a task that is not ours."""
    name = getattr(task, POLICY_ATTRIBUTE, None)
    return name if isinstance(name, str) and name in QUEUES else None
