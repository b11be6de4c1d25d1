"""Fill the jobs' recoverability record (``jobs.0003``) from the executions already run."""

from django.db import migrations
from django.utils.dateparse import parse_datetime

FINAL = ("completed", "failed", "cancelled")


def fill(apps, schema_editor):
    BackupJob = apps.get_model("jobs", "BackupJob")
    BackupExecution = apps.get_model("executions", "BackupExecution")
    backups = BackupExecution.objects.filter(kind="backup")
    for job in BackupJob.objects.all().iterator():
        runs = backups.filter(job_id=job.pk)
        attempt = (
            runs.filter(status__in=FINAL, finished_at__isnull=False)
            .order_by("-finished_at")
            .first()
        )
        if attempt is None:
            continue
        job.last_attempt_at, job.last_attempt_status = attempt.finished_at, attempt.status
        completed = runs.filter(status="completed").order_by("-finished_at").first()
        if completed is not None:
            job.last_completed_at = completed.finished_at
            job.last_completed_id = completed.pk
            job.last_completed_seconds = completed.duration_seconds
            job.last_completed_bytes = completed.compressed_size_bytes
        verified = [
            (parse_datetime(str(run.metadata["verification"].get("verified_at") or "")), run)
            for run in runs.filter(status="completed", metadata__has_key="verification")
        ]
        verified = [(at, run) for at, run in verified if at is not None]
        if verified:
            at, run = max(verified, key=lambda pair: pair[0])
            verification = run.metadata["verification"]
            job.last_verification_at = at
            job.last_verification_status = verification.get("status") or ""
            job.last_verification_backup_id = run.pk
            measured = [
                (at, r) for at, r in verified if r.metadata["verification"].get("restore_seconds")
            ]
            if measured:
                _, measured_run = max(measured, key=lambda pair: pair[0])
                job.last_restore_seconds = float(
                    measured_run.metadata["verification"]["restore_seconds"]
                )
                job.last_restore_bytes = (
                    measured_run.size_bytes or measured_run.compressed_size_bytes
                )
            passed = [
                (r.finished_at, at, r)
                for at, r in verified
                if r.metadata["verification"].get("status") == "passed" and r.finished_at
            ]
            if passed:
                finished, at, run = max(passed, key=lambda triple: triple[0])
                job.verified_backup_id, job.verified_backup_at, job.verified_at = (
                    run.pk,
                    finished,
                    at,
                )
        job.save()


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0002_executions_stored_idx"),
        ("jobs", "0003_recoverability"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
