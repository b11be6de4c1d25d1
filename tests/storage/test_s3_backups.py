"""Backups of a real PostgreSQL database into a real S3 endpoint (moto), restored by hand."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from executions.models import BackupExecution
from jobs.models import BackupJob
from storage.adapters.backblaze import BackblazeAdapter
from storage.adapters.base import StorageWriter
from storage.adapters.minio import MinIOAdapter
from storage.adapters.s3 import S3Adapter, S3CompatibleAdapter
from storage.adapters.s3 import adapter as s3_adapter
from storage.adapters.s3 import writer as s3_writer
from tests.executions.conftest import (
    DECOMPRESS,
    pg_database,
    pg_exec,
    pg_table_checksums,
    run_recipe,
    scratch_pg_target,
)
from tests.factories import BackupJobFactory, DatasourceFactory, StorageLocationFactory
from tests.storage.s3server import CuttableProxy, MotoServer, adapter_config, cuttable_proxy

__all__ = ["pg_database", "scratch_pg_target"]  # fixtures for pytest

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

MIB = 1024 * 1024
ADAPTERS: dict[str, type[S3CompatibleAdapter]] = {
    "s3": S3Adapter,
    "minio": MinIOAdapter,
    "backblaze": BackblazeAdapter,
}
PG_CONNECTION = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "password": ""}
# moto without auth accepts any secret; this one is set so the test can prove it leaks nowhere.
SECRET = "S3-secret-that-must-not-leak-8093/abcdefXYZ"


def s3_config(url: str, bucket: str) -> dict[str, Any]:
    config = adapter_config("s3", url, bucket, secret=SECRET, prefix="dg")
    return S3Adapter.validate_config(config)


def make_job(
    pg_database: str, config: dict[str, Any], storage_type: str = "s3", **options: Any
) -> BackupJob:
    datasource = DatasourceFactory.create(
        type="postgres", connection_config={**PG_CONNECTION, "database": pg_database}
    )
    location = StorageLocationFactory.create(type=storage_type, config=config)
    return BackupJobFactory.create(
        datasource=datasource,
        storage_location=location,
        backup_options={"compression": "zstd", **options},
    )


def _run(job: BackupJob) -> BackupExecution:
    with open("/dev/null", "w") as devnull:
        call_command("backup", str(job.id), stdout=devnull)
    return BackupExecution.objects.filter(job=job).latest("created_at")


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
    job = make_job(pg_database, config, max_file_size_mb=1)
    execution = _run(job)
    assert execution.status == BackupExecution.Status.COMPLETED, execution.error_message
    directory = str(execution.backup_path)
    assert directory.startswith(f"{job.datasource_id}/{job.id}/")
    assert directory.endswith(f"-{execution.id}")

    adapter = S3Adapter(config)
    stored = {Path(item.path).name: item.size for item in adapter.list_files(directory)}
    chunks = list(execution.chunks.order_by("chunk_number"))
    assert len(chunks) >= 2, "the 1 MB limit should have split the artifact"
    assert set(stored) == {"manifest.json", "SHA256SUMS"} | {Path(c.file_path).name for c in chunks}

    download = tmp_path / "download"
    download.mkdir()
    for name in stored:
        with (
            adapter.open_read(f"{directory}/{name}") as remote,
            (download / name).open("wb") as out,
        ):
            while piece := remote.read(MIB):
                out.write(piece)
        assert (download / name).stat().st_size == stored[name]
    manifest_text = (download / "manifest.json").read_text()
    assert json.loads(manifest_text)["sha256"] == execution.metadata["checksum"]
    run_recipe(
        "postgres",
        download,
        DECOMPRESS=DECOMPRESS["zstd"],
        TARGET_DB=f"postgresql://postgres@127.0.0.1:5432/{scratch_pg_target}",
    )
    assert pg_table_checksums(scratch_pg_target) == pg_table_checksums(pg_database)
    assert SECRET not in manifest_text + caplog.text

    adapter.delete(directory)
    assert adapter.list_files() == []
    assert moto.client().list_objects_v2(Bucket=s3_bucket).get("Contents", []) == []


@contextmanager
def _cut_after(proxy: CuttableProxy, limit: int) -> Iterator[dict[str, int]]:
    """Make the proxy refuse every upload once ``limit`` bytes went into any writer."""
    state = {"written": 0, "cut": 0}
    real_open_write = S3Adapter.open_write

    class CuttingWriter:
        def __init__(self, writer: StorageWriter) -> None:
            self._writer = writer

        @property
        def bytes_written(self) -> int:
            return self._writer.bytes_written

        def write(self, data: bytes, /) -> int:
            written = self._writer.write(data)
            state["written"] += written
            if state["written"] >= limit and not state["cut"]:
                proxy.cut()
                state["cut"] = 1
            return written

    @contextmanager
    def open_write(self: S3Adapter, path: str, *, size_hint: int | None = None) -> Any:
        with real_open_write(self, path, size_hint=size_hint) as writer:
            yield CuttingWriter(writer)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(S3Adapter, "open_write", open_write)
        yield state


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
        job = make_job(pg_database, config, compression="none")
        with _cut_after(proxy, 6 * MIB) as state, pytest.raises(CommandError):
            _run(job)
        assert state["cut"], "the upload never reached the cut"
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
    from executions.restore import perform_restore, restore_execution

    adapter_class = ADAPTERS[storage_type]
    config = adapter_class.validate_config(
        {**adapter_config(storage_type, moto.url, s3_bucket, secret=SECRET, prefix="dg"), **options}
    )
    job = make_job(pg_database, config, storage_type, max_file_size_mb=1)
    backup = _run(job)
    assert backup.status == BackupExecution.Status.COMPLETED, backup.error_message
    adapter = adapter_class(config)
    assert len(adapter.list_files(str(backup.backup_path))) >= 4  # chunks, sums, manifest
    target = DatasourceFactory.create(
        type="postgres", connection_config={**PG_CONNECTION, "database": scratch_pg_target}
    )
    restore = restore_execution(backup, target_datasource=target, confirm=True)
    assert perform_restore(restore), restore.error_message
    assert pg_table_checksums(scratch_pg_target) == pg_table_checksums(pg_database)

    adapter.delete(str(backup.backup_path))
    assert moto.client().list_objects_v2(Bucket=s3_bucket).get("Contents", []) == []
