"""The executions' tally (PostgreSQL): its sums follow every way an execution row is added,
changed or removed, and folding it keeps them, even beside a transaction still open."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from executions import tally
from executions.models import BackupExecution, ExecutionTally
from executions.tasks import run_cleanup
from tests import factories

pytestmark = pytest.mark.server

Completed = BackupExecution.Status.COMPLETED


def counted() -> list[tuple[str, str, Any, int, int]]:
    """The totals counted from the executions themselves."""
    rows = (
        BackupExecution.objects.order_by()
        .values_list(*tally.GROUP)
        .annotate(n=Count("id"), size=Coalesce(Sum("compressed_size_bytes"), 0))
        .values_list(*tally.GROUP, "n", "size")
    )
    return sorted(rows)


def summed() -> list[tuple[str, str, Any, int, int]]:
    return sorted(tally.totals())


@pytest.mark.django_db
def test_the_tally_follows_every_change_of_the_executions(backup_job):
    other_location = factories.StorageLocationFactory.create()
    assert summed() == counted() == []

    runs = [factories.BackupExecutionFactory.create(job=backup_job) for _ in range(4)]
    assert summed() == counted()
    assert [row[3] for row in summed()] == [4]

    runs[0].claim("worker")
    runs[0].complete(size_bytes=10_000, compressed_size_bytes=2_500)
    runs[1].claim("worker")
    runs[1].fail("the dump stopped")
    assert summed() == counted()

    BackupExecution.objects.filter(pk__in=[runs[2].pk, runs[3].pk]).update(
        status=Completed, compressed_size_bytes=700
    )
    assert summed() == counted()

    BackupExecution.objects.filter(pk=runs[2].pk).update(storage_location=other_location)
    BackupExecution.objects.filter(pk=runs[3].pk).update(compressed_size_bytes=900)
    BackupExecution.objects.bulk_create(
        factories.BackupExecutionFactory.build(job=backup_job, kind="restore") for _ in range(3)
    )
    assert summed() == counted()

    runs[1].delete()
    BackupExecution.objects.filter(kind="restore").delete()
    assert summed() == counted()
    assert {(row[1], row[4]) for row in summed()} == {
        ("completed", 2_500 + 900),
        ("completed", 700),
    }


@pytest.mark.django_db
def test_progress_and_heartbeat_updates_add_no_tally_rows(backup_job):
    run = factories.BackupExecutionFactory.create(job=backup_job)
    run.claim("worker")
    before = ExecutionTally.objects.count()

    for step in range(5):
        BackupExecution.objects.filter(pk=run.pk).update(progress={"bytes": step * 1000})
        run.progress = {"bytes": step}
        run.save()

    assert ExecutionTally.objects.count() == before


@pytest.mark.django_db
def test_folding_keeps_the_sums_and_leaves_one_row_per_group(backup_job):
    runs = [factories.BackupExecutionFactory.create(job=backup_job) for _ in range(6)]
    for number, run in enumerate(runs):
        run.claim("worker")
        if number % 2:
            run.fail("no space left")
        else:
            run.complete(size_bytes=1_000, compressed_size_bytes=100 + number)
    runs[0].delete()
    before = summed()
    assert ExecutionTally.objects.count() > len(before)

    tally.compact()

    assert summed() == before == counted()
    assert ExecutionTally.objects.count() == len(before)  # running: 0 executions, folded away


@pytest.mark.django_db
def test_a_read_of_a_grown_tally_folds_it(backup_job, monkeypatch):
    monkeypatch.setattr(tally, "COMPACT_ABOVE", 5)
    for _ in range(4):
        factories.BackupExecutionFactory.create(job=backup_job).claim("worker")
    assert ExecutionTally.objects.count() > 5

    totals = summed()

    assert totals == counted()
    assert ExecutionTally.objects.count() == len(totals)


@pytest.mark.django_db(transaction=True)
def test_a_fold_keeps_what_a_transaction_still_open_adds(backup_job):
    factories.BackupExecutionFactory.create(job=backup_job)
    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname=settings["NAME"]
    )
    try:
        # Another session adds a run and changes one, and has not committed when the fold runs.
        other.execute(
            "INSERT INTO backup_executions (id, status, backup_type, metadata, created_at, kind,"
            " trigger, attempt, worker, progress, log_tail, datasource_id, job_id,"
            " storage_location_id, compressed_size_bytes)"
            " SELECT gen_random_uuid(), 'completed', 'full', '{}', now(), 'backup', 'manual',"
            " 1, '', '{}', '', datasource_id, job_id, storage_location_id, 4242"
            " FROM backup_executions LIMIT 1"
        )
        other.execute("UPDATE backup_executions SET status = 'running' WHERE status = 'queued'")

        tally.compact()
        other.commit()
    finally:
        other.close()

    assert summed() == counted()
    assert sorted((row[1], row[3], row[4]) for row in summed()) == [
        ("completed", 1, 4242),
        ("running", 1, 0),
    ]


@pytest.mark.django_db
def test_the_daily_cleanup_folds_the_tally(backup_job):
    for _ in range(3):
        factories.BackupExecutionFactory.create(job=backup_job).claim("worker")
    totals = summed()
    assert ExecutionTally.objects.count() > len(totals)

    run_cleanup.apply()

    assert summed() == totals == counted()
    assert ExecutionTally.objects.count() == len(totals)
