"""Every log line of a run says which execution, job and datasource it is about, in the text
format and in the JSON format."""

from __future__ import annotations

import json

import pytest

from executions.models import BackupExecution

pytestmark = pytest.mark.django_db


def _backup(make_job, source) -> BackupExecution:
    from tests.support.jobs import run_backup

    job = make_job("files", {"source_path": str(source)})
    job.name = "nightly files"
    job.save()
    job.datasource.name = "app-uploads"
    job.datasource.save()
    return run_backup(job)


def test_a_backups_text_lines_end_with_its_execution_job_and_datasource(console, make_job, source):
    stream = console("text")
    execution = _backup(make_job, source)

    lines = [line for line in stream.getvalue().splitlines() if "executions.backup" in line]
    suffix = f'execution={execution.pk} job="nightly files" datasource=app-uploads'
    assert any("Backup of" in line and "started" in line for line in lines), lines
    assert any(f"Backup {execution.pk} completed" in line for line in lines), lines
    assert all(line.endswith(suffix) for line in lines), lines


def test_a_backups_json_lines_carry_the_three_keys(console, make_job, source):
    stream = console("json")
    execution = _backup(make_job, source)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    about = [line for line in lines if line["logger"] == "executions.backup"]
    assert len(about) >= 2
    for line in about:
        assert line["execution"] == str(execution.pk)
        assert line["job"] == "nightly files"
        assert line["datasource"] == "app-uploads"


def test_a_failed_postgres_backup_from_manage_py_names_its_run(console, make_job):
    from django.core.management import CommandError, call_command

    stream = console("json")
    job = make_job(
        "postgres",
        {"host": "127.0.0.1", "port": 1, "database": "x", "username": "postgres"},
    )
    with pytest.raises(CommandError):
        call_command("backup", str(job.pk), stdout=open("/dev/null", "w"))  # noqa: SIM115

    execution = BackupExecution.objects.get(job=job)
    failed = [
        json.loads(line)
        for line in stream.getvalue().splitlines()
        if "failed" in json.loads(line)["message"]
    ]
    assert failed, stream.getvalue()
    assert {(line["execution"], line["job"], line["datasource"]) for line in failed} == {
        (str(execution.pk), job.name, job.datasource.name)
    }
