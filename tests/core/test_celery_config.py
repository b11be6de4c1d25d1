"""The Celery app carries the seed's queues and policies."""

from __future__ import annotations

from django.conf import settings

from core.queues import QUEUES
from dataguardian.celery import app
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
    routes = app.conf.task_routes
    assert routes[run_backup.name]["queue"] == "backups"
    assert routes[run_health_checks.name]["queue"] == "health"
    assert routes[run_cleanup.name]["queue"] == "cleanup"
    assert routes[enqueue_due_jobs.name]["queue"] == "scheduler"
    assert {q.name for q in app.conf.task_queues} >= set(QUEUES)


def test_every_task_of_ours_is_routed_to_a_declared_queue():
    app.loader.import_default_modules()
    ours = [name for name in app.tasks if not name.startswith("celery.")]
    assert "executions.tasks.run_backup" in ours
    routes = app.conf.task_routes
    for name in ours:
        assert name in routes, f"{name} has no route"
        assert routes[name]["queue"] in QUEUES
    assert app.conf.task_default_queue in QUEUES
