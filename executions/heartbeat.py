"""A heartbeat that keeps a running execution alive while its tool is silent.

Progress is written only while bytes flow, but a healthy run can be quiet for minutes:
``pg_dump`` waiting for a lock, ``pg_restore`` building indexes. Without a beat of its own the
reaper would take such a run for one whose worker died.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import close_old_connections, connection
from django.utils import timezone

from executions.models import BackupExecution
from executions.progress import new_log_tail

logger = logging.getLogger(__name__)

#: Seconds between beats: well inside the reaper's two-minute threshold.
HEARTBEAT_INTERVAL = 30.0


def beat(execution_id: uuid.UUID) -> bool:
    """Refresh ``heartbeat_at`` of a running execution (and its log tail when lines came);
    False once it is no longer running."""
    updated = BackupExecution.objects.filter(
        pk=execution_id, status=BackupExecution.Status.RUNNING
    ).update(heartbeat_at=timezone.now(), **new_log_tail(execution_id))
    return updated == 1


def reconnect_if_dropped() -> None:
    """Close this thread's database connection if the server dropped it (a restart, a
    failover), so the next query opens a new one and a run that failed for that reason can
    still record it. Inside a transaction nothing is done: closing would lose it."""
    if connection.in_atomic_block or connection.connection is None:
        return
    if not connection.is_usable():
        connection.close()


@contextmanager
def heartbeat(execution_id: uuid.UUID, interval: float = HEARTBEAT_INTERVAL) -> Iterator[None]:
    """Beat every ``interval`` seconds from a daemon thread while the block runs; the thread's
    log lines carry the run's log context."""
    with beating(lambda: beat(execution_id), f"Heartbeat of {execution_id}", interval):
        yield


@contextmanager
def beating(step: Callable[[], bool], what: str, interval: float) -> Iterator[None]:
    """Call ``step`` every ``interval`` seconds from a daemon thread named ``what`` while the
    block runs, until it returns False (what it beats for ended elsewhere). A failing step is
    logged and the thread's connection closed, for the next step to open a new one."""
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.wait(interval):
                try:
                    if not step():
                        return
                except Exception:  # a database hiccup must not end the run
                    logger.warning("%s failed", what, exc_info=True)
                    close_old_connections()
        finally:
            connection.close()  # this thread's own connection

    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(run,), name=what, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval)
