"""A scrape costs the same number of queries for 5 jobs as for 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from datasources.models import HealthCheck
from executions.models import BackupExecution
from jobs.models import BackupJob
from tests import factories
from tests.support.metrics import of

pytestmark = pytest.mark.django_db


def _add_jobs(count: int) -> None:
    """``count`` jobs over their own datasources and locations, each with a finished backup,
    a failed one and a health check, their record fields filled as the runs fill them."""
    now = timezone.now()
    start = BackupJob.objects.count()
    location = factories.StorageLocationFactory.create(available_space_gb=10)
    datasources = [factories.DatasourceFactory.build() for _ in range(count)]
    factories.DatasourceFactory._meta.model.objects.bulk_create(datasources)
    jobs = BackupJob.objects.bulk_create(
        factories.BackupJobFactory.build(
            name=f"bulk job {start + i}",
            datasource=datasource,
            storage_location=location,
            last_attempt_at=now,
            last_attempt_status="failed",
            last_completed_at=now - timedelta(hours=1),
            last_completed_seconds=12.5,
            last_completed_bytes=1000,
            failure_streak=1,
            last_verification_at=now,
            last_verification_status="passed",
            last_restore_seconds=3.0,
            last_restore_bytes=2000,
            rpo_target_minutes=30,
            rto_target_minutes=1,
        )
        for i, datasource in enumerate(datasources)
    )
    BackupExecution.objects.bulk_create(
        BackupExecution(
            job=job,
            datasource_id=job.datasource_id,
            storage_location_id=location.pk,
            status=status,
            compressed_size_bytes=1000,
        )
        for job in jobs
        for status in ("completed", "failed")
    )
    HealthCheck.objects.bulk_create(
        HealthCheck(datasource=datasource, status="ok", latency_ms=25) for datasource in datasources
    )


def _queries_of_a_scrape(scrape) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        text = scrape()
    return len(queries), text


def test_a_scrape_makes_as_many_queries_for_500_jobs_as_for_5(scrape):
    _add_jobs(5)
    scrape()  # the first scrape may read and cache the system settings
    few, text = _queries_of_a_scrape(scrape)
    assert text.count("dataguardian_job_enabled{") == 5
    _add_jobs(495)
    many, text = _queries_of_a_scrape(scrape)
    assert text.count("dataguardian_job_enabled{") == 500
    assert many == few
    assert of(text, "dataguardian_executions", kind="backup", status="completed") == 500
    assert text.count("dataguardian_datasource_health_latency_seconds{") == 500
    assert text.count("dataguardian_job_rto_target_missed{") == 500
