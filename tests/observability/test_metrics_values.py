"""The job, storage and execution metrics match the database after real backups, a failed
backup and a real verification."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dataguardian import metrics
from executions.models import BackupExecution
from executions.verification import verify_backup
from jobs.models import BackupJob
from tests.support.databases import PG_CONNECTION
from tests.support.jobs import run_backup, run_failing_backup
from tests.support.metrics import of

pytestmark = pytest.mark.django_db


def _job_labels(job: BackupJob) -> dict[str, str]:
    return {"job_id": str(job.pk), "job": job.name, "datasource": job.datasource.name}


def test_every_family_parses_with_prometheus_clients_own_parser(scrape):
    names = {family.name for family in text_string_to_metric_families(scrape())}
    assert names == metrics.NAMES


def test_a_completed_backup_is_reported_as_the_database_has_it(scrape, make_job, shop_connection):
    job = make_job("postgres", shop_connection)
    backup = run_backup(job)
    job.refresh_from_db()
    text, labels = scrape(), _job_labels(job)
    assert backup.finished_at is not None
    assert backup.compressed_size_bytes
    assert of(text, "dataguardian_job_last_success_timestamp_seconds", **labels) == pytest.approx(
        backup.finished_at.timestamp()
    )
    assert of(text, "dataguardian_job_last_attempt_success", **labels) == 1
    assert of(text, "dataguardian_job_last_backup_size_bytes", **labels) == (
        backup.compressed_size_bytes
    )
    assert of(text, "dataguardian_job_last_backup_duration_seconds", **labels) == pytest.approx(
        job.last_completed_seconds
    )
    assert of(text, "dataguardian_job_consecutive_failures", **labels) == 0
    assert of(text, "dataguardian_job_enabled", **labels) == 1
    rpo = of(text, "dataguardian_job_rpo_seconds", **labels)
    assert rpo is not None
    assert rpo >= 0
    assert of(text, "dataguardian_job_expected_rpo_seconds", **labels) == 24 * 3600
    # Never verified: no verification values, and not overdue within the 7-day window.
    assert of(text, "dataguardian_job_last_verification_timestamp_seconds", **labels) is None
    assert of(text, "dataguardian_job_restore_duration_seconds", **labels) is None
    assert of(text, "dataguardian_job_verification_overdue", **labels) == 0
    location = {"location_id": str(job.storage_location_id)}
    assert of(text, "dataguardian_storage_used_bytes", **location) == backup.compressed_size_bytes
    assert of(text, "dataguardian_executions", kind="backup", status="completed") == 1


def test_a_failed_backup_counts_as_a_failure_and_keeps_the_last_success(
    scrape, make_job, shop_connection
):
    job = make_job("postgres", shop_connection)
    good = run_backup(job)
    job.datasource.connection_config = {**PG_CONNECTION, "database": "dgtest_no_such_database"}
    job.datasource.save()
    failed = run_failing_backup(BackupJob.objects.get(pk=job.pk))
    text, labels = scrape(), _job_labels(job)
    assert failed.finished_at is not None
    assert good.finished_at is not None
    assert of(text, "dataguardian_job_last_attempt_success", **labels) == 0
    assert of(text, "dataguardian_job_last_attempt_timestamp_seconds", **labels) == pytest.approx(
        failed.finished_at.timestamp()
    )
    assert of(text, "dataguardian_job_last_success_timestamp_seconds", **labels) == pytest.approx(
        good.finished_at.timestamp()
    )
    assert of(text, "dataguardian_job_consecutive_failures", **labels) == 1
    assert of(text, "dataguardian_executions", kind="backup", status="failed") == 1
    assert of(text, "dataguardian_executions", kind="backup", status="completed") == 1


def test_a_real_verification_is_reported_with_its_restore_time_and_size(
    scrape, make_job, shop_connection
):
    job = make_job("postgres", shop_connection)
    backup = run_backup(job)
    result = verify_backup(backup)
    assert result["status"] == "passed", result
    job.refresh_from_db()
    backup.refresh_from_db()
    text, labels = scrape(), _job_labels(job)
    assert job.last_verification_at is not None
    assert job.last_restore_seconds
    assert of(
        text, "dataguardian_job_last_verification_timestamp_seconds", **labels
    ) == pytest.approx(job.last_verification_at.timestamp())
    assert of(text, "dataguardian_job_last_verification_success", **labels) == 1
    assert of(text, "dataguardian_job_restore_duration_seconds", **labels) == pytest.approx(
        backup.metadata["verification"]["restore_seconds"]
    )
    assert of(text, "dataguardian_job_restore_size_bytes", **labels) == (
        backup.size_bytes or backup.compressed_size_bytes
    )
    verified_rpo = of(text, "dataguardian_job_verified_rpo_seconds", **labels)
    assert verified_rpo is not None
    assert verified_rpo >= 0
    assert of(text, "dataguardian_job_verification_overdue", **labels) == 0


def test_a_job_that_never_ran_has_only_the_values_it_has(scrape, backup_job):
    text, labels = scrape(), _job_labels(backup_job)
    assert of(text, "dataguardian_job_enabled", **labels) == 1
    assert of(text, "dataguardian_job_consecutive_failures", **labels) == 0
    for name in ("last_success_timestamp_seconds", "last_attempt_success", "rpo_seconds"):
        assert of(text, f"dataguardian_job_{name}", **labels) is None, name


def test_no_execution_id_appears_as_a_label_value(scrape, make_job, shop_connection):
    job = make_job("postgres", shop_connection)
    run_backup(job)
    verify_backup(BackupExecution.objects.get(job=job))
    text = scrape()
    values = {
        value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for value in sample.labels.values()
    }
    execution_ids = {str(pk) for pk in BackupExecution.objects.values_list("pk", flat=True)}
    assert execution_ids
    assert not values & execution_ids
    assert not any(execution_id in text for execution_id in execution_ids)


@pytest.mark.server
def test_the_jobs_are_read_with_the_values_and_time_zone_django_reads(make_job, shop_connection):
    job = make_job("postgres", shop_connection)
    run_backup(job)
    expected = list(BackupJob.objects.order_by("name").values_list(*metrics.JOB_COLUMNS))

    rows = list(metrics.job_rows())

    assert rows == expected
    completed = metrics.JobRow._make(rows[0]).last_completed_at
    assert completed is not None
    assert completed.utcoffset() == timedelta(0)
