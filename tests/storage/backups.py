"""What the backup tests against remote storage share: a PostgreSQL job on a location, a run
through ``manage.py backup``, the two restores (by hand from the downloaded files, with
docs/RESTORE.md's commands, and through DataGuardian), and a cut in the middle of an upload."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from executions.models import BackupExecution
from jobs.models import BackupJob
from storage.adapters.base import StorageAdapter, StorageWriter
from tests.factories import BackupJobFactory, DatasourceFactory, StorageLocationFactory
from tests.support.databases import PG_CONNECTION, pg_table_checksums
from tests.support.recipes import DECOMPRESS, run_recipe

MIB = 1024 * 1024


def make_pg_job(
    pg_database: str, storage_type: str, config: dict[str, Any], **options: Any
) -> BackupJob:
    """A zstd backup job of ``pg_database`` into a new location of ``storage_type``."""
    datasource = DatasourceFactory.create(
        type="postgres", connection_config={**PG_CONNECTION, "database": pg_database}
    )
    location = StorageLocationFactory.create(type=storage_type, config=config)
    return BackupJobFactory.create(
        datasource=datasource,
        storage_location=location,
        backup_options={"compression": "zstd", **options},
    )


def run_backup(job: BackupJob) -> BackupExecution:
    with open("/dev/null", "w") as devnull:
        call_command("backup", str(job.id), stdout=devnull)
    return BackupExecution.objects.filter(job=job).latest("created_at")


def restore_by_hand(
    adapter: StorageAdapter,
    execution: BackupExecution,
    download: Path,
    pg_database: str,
    scratch_pg_target: str,
) -> str:
    """Check what a completed, chunked run stored, download every file into ``download``,
    restore it with docs/RESTORE.md's commands and compare the tables; returns the manifest."""
    assert execution.status == BackupExecution.Status.COMPLETED, execution.error_message
    job = execution.job
    directory = str(execution.backup_path)
    assert directory.startswith(f"{job.datasource_id}/{job.id}/")
    assert directory.endswith(f"-{execution.id}")

    stored = {Path(item.path).name: item.size for item in adapter.list_files(directory)}
    chunks = list(execution.chunks.order_by("chunk_number"))
    assert len(chunks) >= 2, "the 1 MB limit should have split the artifact"
    assert set(stored) == {"manifest.json", "SHA256SUMS"} | {Path(c.file_path).name for c in chunks}

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
    return manifest_text


def restore_through_dataguardian(
    backup: BackupExecution, pg_database: str, scratch_pg_target: str
) -> None:
    """Restore a completed backup with DataGuardian's own restore and compare the tables."""
    from executions.restore import perform_restore, restore_execution

    assert backup.status == BackupExecution.Status.COMPLETED, backup.error_message
    target = DatasourceFactory.create(
        type="postgres", connection_config={**PG_CONNECTION, "database": scratch_pg_target}
    )
    restore = restore_execution(backup, target_datasource=target, confirm=True)
    assert perform_restore(restore), restore.error_message
    assert pg_table_checksums(scratch_pg_target) == pg_table_checksums(pg_database)


@contextmanager
def cut_after(
    adapter_class: type[StorageAdapter], limit: int, cut: Callable[[], int]
) -> Iterator[dict[str, int]]:
    """Call ``cut`` once ``limit`` bytes went into the writers of ``adapter_class``; ``cut``
    breaks the connection and returns how many connections it broke (``state["cuts"]``)."""
    state = {"written": 0, "cuts": 0}
    real_open_write = adapter_class.open_write

    class CuttingWriter:
        def __init__(self, writer: StorageWriter) -> None:
            self._writer = writer

        @property
        def bytes_written(self) -> int:
            return self._writer.bytes_written

        def write(self, data: bytes, /) -> int:
            written = self._writer.write(data)
            state["written"] += written
            if state["written"] >= limit and not state["cuts"]:
                state["cuts"] = cut()
            return written

    @contextmanager
    def open_write(self: StorageAdapter, path: str, *, size_hint: int | None = None) -> Any:
        with real_open_write(self, path, size_hint=size_hint) as writer:
            yield CuttingWriter(writer)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(adapter_class, "open_write", open_write)
        yield state
