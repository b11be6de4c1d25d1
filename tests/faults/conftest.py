"""Fixtures of the fault-injection tests: a source tree, a files job on local storage and the
workers a round kills and starts (docs/RELIABILITY.md)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobs.models import BackupJob
from tests.factories import BackupJobFactory, DatasourceFactory, StorageLocationFactory
from tests.support.faults import Worker


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A tree a backup at zstd's slowest level takes a few seconds to read: random bytes, which
    do not compress, and some text that does."""
    directory = tmp_path / "source"
    (directory / "data").mkdir(parents=True)
    for index in range(3):
        (directory / "data" / f"blob{index}.bin").write_bytes(os.urandom(4 * 1024 * 1024))
    (directory / "orders.csv").write_text("".join(f"{n},{n * 7 % 1000}\n" for n in range(50_000)))
    return directory


@pytest.fixture
def files_job(source: Path, tmp_path: Path) -> BackupJob:
    storage = tmp_path / "storage"
    storage.mkdir()
    job: BackupJob = BackupJobFactory.create(
        datasource=DatasourceFactory.create(
            type="files", connection_config={"source_path": str(source)}
        ),
        storage_location=StorageLocationFactory.create(config={"path": str(storage)}),
        backup_options={"compression": "zstd", "compression_level": 19},
    )
    return job


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """``workers(name, queues)`` starts a worker; every worker started is killed at the end."""
    started: list[Worker] = []

    def start(name: str, queues: str = "backups,cleanup") -> Worker:
        worker = Worker(tmp_path, name, queues).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()
