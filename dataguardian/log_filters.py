"""The logging filter that keeps routine Celery chatter off the terminal."""

from __future__ import annotations

import logging

from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS
from django.core.exceptions import AppRegistryNotReady

# Beat's line for each task it sends; its arguments are the entry's name and the task's.
_BEAT_SENDING = "Scheduler: Sending due task %s (%s)"
_WORKER_LINES = {"celery.worker.strategy": LOG_RECEIVED, "celery.app.trace": LOG_SUCCESS}


def _task_of(record: logging.LogRecord) -> str | None:
    """The task a Celery "sending", "received" or "succeeded" line is about, else None."""
    if record.name == "celery.beat" and record.msg == _BEAT_SENDING:
        args = record.args
        return str(args[1]) if isinstance(args, tuple) and len(args) == 2 else None
    if record.msg == _WORKER_LINES.get(record.name) and isinstance(record.args, dict):
        name = record.args.get("name")
        return str(name) if name is not None else None
    return None


class QuietRoutineTasks(logging.Filter):
    """Drops beat's "Sending due task", the worker's "Task ... received" and "... succeeded"
    lines (INFO) for the routine tasks (``dataguardian.periodic.routine_task_names``), which
    would otherwise fill the terminal every minute. Lines about backups, restores and every
    other task stay, as do warnings and errors of any task."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._routine: frozenset[str] | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        task = _task_of(record)
        return task is None or task not in self._routine_tasks()

    def _routine_tasks(self) -> frozenset[str]:
        if self._routine is None:
            try:
                # The tasks' modules import models: only once the apps are loaded.
                from dataguardian.periodic import routine_task_names

                self._routine = routine_task_names()
            except AppRegistryNotReady:  # too early: let the line through, ask again later
                return frozenset()
        return self._routine
