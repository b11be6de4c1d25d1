"""The Celery app carries the seed's queues and policies."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from core.queues import QUEUES, queue_of
from dataguardian.celery import app, route_by_policy
from datasources.tasks import run_health_checks
from executions.tasks import enqueue_due_jobs, run_backup, run_cleanup


def test_delivery_is_late_acked_one_at_a_time_and_json_only():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_time_limit
    assert conf.task_soft_time_limit < conf.task_time_limit


@pytest.mark.server
def test_the_redis_visibility_timeout_outlasts_the_longest_backup():
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert options["visibility_timeout"] > settings.BACKUP_TIME_LIMIT


def test_the_seed_queue_table_is_declared():
    table = {
        name: (q.concurrency, q.max_retries, q.backoff, q.delay_seconds)
        for name, q in QUEUES.items()
    }
    assert table["backups"] == (3, 3, "exponential", 30)
    assert table["health"] == (10, 2, "fixed", 10)
    assert table["cleanup"][0] == 1
    assert table["notifications"] == (5, 3, "exponential", 60)


def test_backoff_grows_exponentially_for_backups_and_stays_fixed_for_health():
    assert [QUEUES["backups"].countdown(n) for n in range(3)] == [30, 60, 120]
    assert [QUEUES["health"].countdown(n) for n in range(2)] == [10, 10]


def test_tasks_are_routed_to_their_queue_with_their_retry_policy():
    assert run_backup.max_retries == 3
    assert run_backup.retry_backoff == 30
    assert run_health_checks.max_retries == 2
    assert run_health_checks.default_retry_delay == 10
    assert queue_of(run_backup) == "backups"
    assert queue_of(run_health_checks) == "health"
    assert queue_of(run_cleanup) == "cleanup"
    assert queue_of(enqueue_due_jobs) == "scheduler"
    assert {q.name for q in app.conf.task_queues} >= set(QUEUES)


def test_every_task_of_ours_is_bound_to_a_declared_queue_where_it_is_declared():
    app.loader.import_default_modules()
    ours = [name for name in app.tasks if not name.startswith("celery.")]
    assert "executions.tasks.run_backup" in ours
    for name in ours:
        assert queue_of(app.tasks[name]) in QUEUES, f"{name} has no queue of its own"
    assert app.conf.task_default_queue in QUEUES


def test_the_only_route_is_the_router_that_reads_each_tasks_declaration():
    # No table of task names that could name a task that does not exist (a dead route).
    assert list(app.conf.task_routes) == [route_by_policy]


def test_a_sent_task_goes_to_the_queue_its_declaration_names():
    app.loader.import_default_modules()
    for name in (n for n in app.tasks if not n.startswith("celery.")):
        task: Any = app.tasks[name]
        route = app.amqp.router.route({}, name, (), {}, task_type=task)
        assert route["queue"].name == queue_of(task), name
        by_name = app.amqp.router.route({}, name, (), {})
        assert by_name["queue"].name == queue_of(task), name


def test_every_periodic_task_names_a_task_that_exists_on_its_queue():
    from dataguardian.periodic import SYSTEM_TASKS

    app.loader.import_default_modules()
    for item in SYSTEM_TASKS:
        assert item.task in app.tasks, item.name
        assert item.queue == queue_of(app.tasks[item.task])
