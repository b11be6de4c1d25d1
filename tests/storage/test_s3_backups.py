"""Backups of a real PostgreSQL database into a real S3 endpoint (moto), restored by hand."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError

from executions.models import BackupExecution
from storage.adapters import ADAPTERS
from storage.adapters.s3 import S3Adapter
from storage.adapters.s3 import adapter as s3_adapter
from storage.adapters.s3 import writer as s3_writer
from tests.storage.backups import (
    MIB,
    cut_after,
    make_pg_job,
    restore_by_hand,
    restore_through_dataguardian,
    run_backup,
)
from tests.storage.s3server import MotoServer, adapter_config, cuttable_proxy
from tests.support.databases import pg_exec

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# moto without auth accepts any secret; this one is set so the test can prove it leaks nowhere.
SECRET = "S3-secret-that-must-not-leak-8093/abcdefXYZ"


def s3_config(url: str, bucket: str) -> dict[str, Any]:
    config = adapter_config("s3", url, bucket, secret=SECRET, prefix="dg")
    return S3Adapter.validate_config(config)


def test_a_postgres_backup_to_s3_restores_and_deletes(
    moto: MotoServer,
    s3_bucket: str,
    pg_database: str,
    scratch_pg_target: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    config = s3_config(moto.url, s3_bucket)
    execution = run_backup(make_pg_job(pg_database, "s3", config, max_file_size_mb=1))
    adapter = S3Adapter(config)
    manifest_text = restore_by_hand(
        adapter, execution, tmp_path / "download", pg_database, scratch_pg_target
    )
    assert SECRET not in manifest_text + caplog.text

    adapter.delete(str(execution.backup_path))
    assert adapter.list_files() == []
    assert moto.client().list_objects_v2(Bucket=s3_bucket).get("Contents", []) == []


def test_a_connection_dropped_mid_upload_fails_the_run_and_leaves_nothing(
    moto: MotoServer,
    s3_bucket: str,
    pg_database: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # botocore's debug log repeats every request's parameters, 5 MiB part bodies included,
    # which makes this test crawl; the successful run above checks its debug output.
    caplog.set_level(logging.INFO, logger="botocore")
    # About 20 MiB of uncompressed dump, sent in 5 MiB parts (moto's minimum): the first part
    # is stored when the cut comes, so the run has an unfinished upload to abort.
    pg_exec(
        "CREATE TABLE bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS line "
        "FROM generate_series(1, 250000) g",
        pg_database,
    )
    monkeypatch.setattr(s3_writer, "DEFAULT_PART_SIZE", 5 * MIB)
    # Retries are what a real run does; they are shortened so the test stays quick.
    monkeypatch.setattr(s3_adapter, "BOTOCORE_MAX_ATTEMPTS", 1)
    monkeypatch.setattr(s3_writer, "PART_RETRY_DELAYS", (0.05, 0.05))
    with cuttable_proxy(moto.port) as proxy:
        config = s3_config(proxy.url, s3_bucket)
        job = make_pg_job(pg_database, "s3", config, compression="none")

        def cut() -> int:
            proxy.cut()
            return 1

        with cut_after(S3Adapter, 6 * MIB, cut) as state, pytest.raises(CommandError):
            run_backup(job)
        assert state["cuts"], "the upload never reached the cut"
        assert proxy.dropped > 0
    execution = BackupExecution.objects.get(job=job)
    assert execution.status == BackupExecution.Status.FAILED
    message = str(execution.error_message)
    assert "upload part 2 of s3://" in message
    assert "connection" in message
    assert not execution.chunks.exists()

    client = moto.client()
    assert client.list_objects_v2(Bucket=s3_bucket).get("Contents", []) == []
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    for text in (message, str(execution.error_stack), caplog.text):
        assert SECRET not in text


@pytest.mark.parametrize(
    ("storage_type", "options"),
    [("s3", {}), ("s3", {"checksums": "on"}), ("minio", {}), ("backblaze", {})],
    ids=["s3", "s3-with-checksums", "minio", "backblaze"],
)
def test_a_postgres_backup_in_object_storage_restores_through_dataguardian(
    moto: MotoServer,
    s3_bucket: str,
    pg_database: str,
    scratch_pg_target: str,
    storage_type: str,
    options: dict[str, Any],
) -> None:
    adapter_class = ADAPTERS.get(storage_type)
    config = adapter_class.validate_config(
        {**adapter_config(storage_type, moto.url, s3_bucket, secret=SECRET, prefix="dg"), **options}
    )
    backup = run_backup(make_pg_job(pg_database, storage_type, config, max_file_size_mb=1))
    assert backup.status == BackupExecution.Status.COMPLETED, backup.error_message
    adapter = adapter_class(config)
    assert len(adapter.list_files(str(backup.backup_path))) >= 4  # chunks, sums, manifest
    restore_through_dataguardian(backup, pg_database, scratch_pg_target)

    adapter.delete(str(backup.backup_path))
    assert moto.client().list_objects_v2(Bucket=s3_bucket).get("Contents", []) == []
