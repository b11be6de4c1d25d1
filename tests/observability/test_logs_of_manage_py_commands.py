"""``manage.py backup``, ``restore`` and ``verify`` tell a person what ran, how it ended, how
big and how long it was, where it is stored, and the error when it failed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from executions.models import BackupExecution

pytestmark = pytest.mark.django_db


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_backup_says_what_it_backed_up_where_and_how_big(make_job, source):
    job = make_job("files", {"source_path": str(source)})
    out = _command("backup", job.name)

    execution = BackupExecution.objects.get(job=job)
    first, last = out.strip().splitlines()
    assert first == (
        f"execution {execution.pk}: backing up {job.datasource.name} (files) to "
        f"{job.storage_location.name}"
    )
    assert last.startswith(f"execution {execution.pk} completed in ")
    assert " KiB read, " in last
    assert last.endswith(f"stored at {execution.backup_path} on {job.storage_location.name}")


def test_a_failed_backup_says_why(make_job):
    job = make_job("postgres", {"host": "127.0.0.1", "port": 1, "database": "x"})
    with pytest.raises(CommandError) as info:
        _command("backup", str(job.pk))

    execution = BackupExecution.objects.get(job=job)
    assert str(info.value) == f"execution {execution.pk} failed: {execution.error_message}"
    assert "127.0.0.1" in str(execution.error_message)


def test_restore_says_what_it_restored_into_and_how_long_it_took(make_job, source, tmp_path: Path):
    job = make_job("files", {"source_path": str(source)})
    _command("backup", str(job.pk))
    backup = BackupExecution.objects.get(job=job)
    target = tmp_path / "restored"

    out = _command("restore", str(backup.pk), "--target-path", str(target))

    restore = BackupExecution.objects.get(kind=BackupExecution.Kind.RESTORE)
    first, last = out.strip().splitlines()
    assert first == f"restore execution {restore.pk}: restoring backup {backup.pk} into {target}"
    assert last.startswith(f"restore execution {restore.pk} completed in ")
    assert last.endswith(f"of stored backup restored into {target}")
    assert (target / "a.txt").exists()


def test_verify_prints_each_check_and_the_outcome(make_job, source):
    job = make_job("files", {"source_path": str(source)})
    _command("backup", str(job.pk))
    backup = BackupExecution.objects.get(job=job)

    lines = _command("verify", job.name).strip().splitlines()

    assert lines[0] == f"verifying backup {backup.pk} of {job.datasource.name}"
    assert all(line.startswith("  ok   ") for line in lines[1:-1])
    assert len(lines) > 2
    assert lines[-1].startswith(f"verification of backup {backup.pk} passed (restored in ")
