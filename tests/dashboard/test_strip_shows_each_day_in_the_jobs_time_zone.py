"""A job's 30-day strip has one cell per day of the job's zone, coloured by what ran that day,
and all the strips come from one query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions.dashboard import job_strips
from jobs.models import BackupJob
from tests import factories

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def _cells(job):
    (strip,) = [s for s in job_strips(NOW) if s.job.pk == job.pk]
    return {cell.day.isoformat(): cell for cell in strip.cells}


def _job(**fields):
    job = factories.BackupJobFactory.create(**fields)
    # Old enough for every day of the window to count.
    BackupJob.objects.filter(pk=job.pk).update(created_at=NOW - timedelta(days=90))
    return job


def test_a_failure_is_shown_on_its_day_in_the_jobs_zone(db):
    # 11:30 UTC on 1 December is 00:30 on 2 December in Auckland (UTC+13 in summer).
    job = _job(schedule_timezone="Pacific/Auckland", schedule_cron="30 0 * * *")
    factories.BackupExecutionFactory.create(
        job=job, status="failed", created_at=datetime(2026, 12, 1, 11, 30, tzinfo=UTC)
    )
    cells = _cells(job)
    assert cells["2026-12-02"].status == "failure"
    assert cells["2026-12-01"].status != "failure"
    assert "Failed" in cells["2026-12-02"].title


def test_the_strip_has_thirty_days_up_to_today_in_the_jobs_zone(db):
    job = _job(schedule_timezone="Pacific/Auckland")
    days = list(_cells(job))
    assert len(days) == 30
    assert days[-1] == "2026-12-03"  # 15:00 UTC is already 04:00 the next day there


def test_success_running_missed_and_none(db):
    job = _job(schedule_timezone="UTC", schedule_cron="0 3 * * *")
    factories.BackupExecutionFactory.create(
        job=job, status="completed", created_at=datetime(2026, 11, 30, 3, tzinfo=UTC)
    )
    factories.BackupExecutionFactory.create(
        job=job, status="running", created_at=datetime(2026, 12, 2, 3, tzinfo=UTC)
    )
    cells = _cells(job)
    assert cells["2026-11-30"].status == "success"
    assert cells["2026-12-02"].status == "running"
    assert cells["2026-12-01"].status == "missed"  # scheduled daily, nothing ran


def test_a_day_the_schedule_does_not_fire_is_none(db):
    job = _job(schedule_timezone="UTC", schedule_cron="0 3 * * 0")  # Sundays only
    cells = _cells(job)
    assert cells["2026-11-29"].status == "missed"  # a Sunday
    assert cells["2026-11-30"].status == "none"


def test_a_cell_links_to_that_days_executions_of_the_job(admin_client):
    job = _job(schedule_timezone="Pacific/Auckland")
    run = factories.BackupExecutionFactory.create(
        job=job, status="failed", created_at=datetime(2026, 12, 1, 11, 30, tzinfo=UTC)
    )
    other = factories.BackupExecutionFactory.create(
        job=job, status="failed", created_at=datetime(2026, 11, 30, 11, 30, tzinfo=UTC)
    )
    page = admin_client.get(_cells(job)["2026-12-02"].url).content.decode()
    assert str(run.pk) in page
    assert str(other.pk) not in page


def test_all_strips_take_the_same_queries_for_one_job_or_many(db):
    with CaptureQueriesContext(connection) as one:
        job_strips(NOW)
    for _ in range(6):
        job = _job()
        factories.BackupExecutionFactory.create(job=job, status="completed", created_at=NOW)
    with CaptureQueriesContext(connection) as many:
        strips = job_strips(NOW)
    assert len(strips) == 6
    assert len(many) == 2  # the jobs, then one aggregate over all their executions
    assert len(one) <= len(many)


def test_the_chart_plots_completed_backups_with_a_title_and_description(db):
    job = _job(name="orders", schedule_timezone="UTC")
    for day, size in [(28, 1_000_000), (29, 3_000_000)]:
        factories.BackupExecutionFactory.create(
            job=job,
            status="completed",
            compressed_size_bytes=size,
            duration_seconds=60,
            created_at=datetime(2026, 11, day, 3, tzinfo=UTC),
        )
    (strip,) = job_strips(NOW)
    assert strip.chart is not None
    assert strip.chart.days == 2
    assert len(strip.chart.size_points.split()) == 2
    assert "orders" in strip.chart.title
    assert "2.9 MiB" in strip.chart.description


def test_the_dashboard_renders_a_strip_per_enabled_job(admin_client):
    job = _job()
    factories.BackupJobFactory.create(enabled=False, name="paused")
    page = admin_client.get("/admin/").content.decode()
    assert f'id="job-strip-{job.pk}"' in page
    assert page.count("data-day=") == 30
    assert "<svg" in page
    assert "<title" in page
    assert "<desc" in page
