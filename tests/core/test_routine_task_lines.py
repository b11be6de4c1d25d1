"""Celery's lines about routine tasks stay off the terminal; lines about backups, restores and
every warning or error stay."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from celery.app.trace import LOG_FAILURE, LOG_RECEIVED, LOG_SUCCESS
from django.conf import settings

from dataguardian.log_filters import QuietRoutineTasks
from dataguardian.periodic import SYSTEM_TASKS, routine_task_names
from executions.tasks import enqueue_due_jobs, reap, run_backup, run_restore, verify_backup
from notifications.tasks import deliver_to_channel

ROUTINE = [enqueue_due_jobs.name, reap.name, "datasources.tasks.check_datasource"]
KEPT = [run_backup.name, run_restore.name, verify_backup.name, deliver_to_channel.name]


def _celery_line(logger: str, msg: str, args: object, level: int = logging.INFO) -> bool:
    record = logging.LogRecord(logger, level, __file__, 1, msg, args, None)  # type: ignore[arg-type]
    return QuietRoutineTasks().filter(record)


def _received(task: str) -> bool:
    return _celery_line("celery.worker.strategy", LOG_RECEIVED, ({"name": task, "id": "t-1"},))


def _succeeded(task: str) -> bool:
    context = {"name": task, "id": "t-1", "runtime": 0.01, "return_value": None}
    return _celery_line("celery.app.trace", LOG_SUCCESS, (context,))


def _sent_by_beat(task: str) -> bool:
    return _celery_line("celery.beat", "Scheduler: Sending due task %s (%s)", ("entry", task))


def test_the_routine_tasks_are_the_periodic_ones_and_the_health_checks_they_send():
    names = routine_task_names()

    assert {item.task for item in SYSTEM_TASKS} <= names
    assert "datasources.tasks.check_datasource" in names
    assert not names & set(KEPT)


@pytest.mark.parametrize("task", ROUTINE)
def test_received_succeeded_and_sent_lines_of_a_routine_task_are_dropped(task):
    assert (_received(task), _succeeded(task), _sent_by_beat(task)) == (False, False, False)


@pytest.mark.parametrize("task", KEPT)
def test_the_same_lines_of_backups_restores_and_deliveries_stay(task):
    assert (_received(task), _succeeded(task), _sent_by_beat(task)) == (True, True, True)


def test_a_routine_tasks_failure_and_its_warnings_stay():
    failure = ({"name": reap.name, "id": "t-1", "description": "raised", "exc": "boom"},)

    assert _celery_line("celery.app.trace", LOG_FAILURE, failure, logging.ERROR)
    assert _celery_line("celery.worker.strategy", LOG_RECEIVED, failure, logging.WARNING)


def test_other_lines_pass_untouched():
    assert _celery_line("celery.apps.worker", "%s ready.", ("backups@host",))
    assert _celery_line("executions.scheduler", "Task %(name)s", ({"name": reap.name},))


def test_the_console_handler_applies_it_before_the_other_filters():
    config: dict[str, Any] = settings.LOGGING
    handler, routine = config["handlers"]["console"], config["filters"]["routine"]

    assert routine["()"] == "dataguardian.log_filters.QuietRoutineTasks"
    assert handler["filters"] == ["routine", "context", "redact"]
