"""Fault: a stored chunk or the manifest of a completed backup is altered before a restore: a
flipped bit, a truncation, a removal. The restore is refused before the target is touched,
with a message that names the chunk (or the manifest); so is a verification."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from executions.artifact import MANIFEST
from executions.models import BackupExecution
from executions.restore import perform_restore, restore_execution
from executions.tasks import back_up
from executions.verification import verify_backup
from tests.support.faults import Tally, rng, rounds, violations
from tests.support.jobs import artifact_dir, claimed_backup

pytestmark = pytest.mark.django_db

ALTERATIONS = ("flip a bit", "truncate", "remove")


def test_an_altered_artifact_is_refused_before_the_target_is_touched(files_job, tmp_path):
    files_job.backup_options = {**files_job.backup_options, "max_file_size_mb": 4}
    files_job.save()
    backup = claimed_backup(files_job)
    assert back_up(backup), backup.error_message
    backup.refresh_from_db()
    directory = artifact_dir(backup)
    pristine = tmp_path / "pristine"
    shutil.copytree(directory, pristine)
    stored = sorted(p.name for p in directory.iterdir() if ".part" in p.name)
    assert len(stored) >= 3
    tally = Tally("artifact altered before a restore")
    for number in range(rounds(default=12)):
        draw = rng(tally.fault, number)
        name = draw.choice([*stored, MANIFEST])
        how = draw.choice(ALTERATIONS)
        _alter(directory / name, how, draw.random())
        tally.strike(f"{how} {'manifest' if name == MANIFEST else 'chunk'}")
        target = tmp_path / f"target-{number}"
        restore = restore_execution(backup, target_path=str(target))
        perform_restore(restore)
        restore.refresh_from_db()
        found = []
        if restore.status != BackupExecution.Status.FAILED:
            found.append(f"{how} of {name}: the restore ended {restore.status}")
        if target.exists():
            found.append(f"{how} of {name}: the target was created")
        named = MANIFEST if name == MANIFEST else f"Chunk {stored.index(name) + 1} "
        if named not in str(restore.error_message):
            found.append(f"{how} of {name}: the error does not name it: {restore.error_message}")
        outcome = verify_backup(backup)
        if outcome["status"] != "failed":
            found.append(f"{how} of {name}: the verification ended {outcome['status']}")
        shutil.rmtree(directory)
        shutil.copytree(pristine, directory)
        found += violations()
        tally.add(number, found)
    tally.close()


def _alter(path: Path, how: str, where: float) -> None:
    if how == "remove":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    offset = int(where * (len(data) - 1))
    if how == "truncate":
        path.write_bytes(bytes(data[:offset]))
        return
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


def test_a_manifest_altered_where_it_still_reads_and_restores_is_refused(files_job, tmp_path):
    """Found by a long run: a flipped bit in a field the restore does not need (its creation
    time) left a manifest that parsed, and the restore went ahead."""
    backup = claimed_backup(files_job)
    assert back_up(backup), backup.error_message
    backup.refresh_from_db()
    path = artifact_dir(backup) / MANIFEST
    text = path.read_text()
    stamp = text.index('"created_at": "') + len('"created_at": "')
    path.write_text(text[:stamp] + ("1" if text[stamp] != "1" else "2") + text[stamp + 1 :])
    target = tmp_path / "target"

    restore = restore_execution(backup, target_path=str(target))
    perform_restore(restore)

    restore.refresh_from_db()
    assert restore.status == BackupExecution.Status.FAILED
    assert "manifest.json was altered" in str(restore.error_message)
    assert not target.exists()
    assert verify_backup(backup)["status"] == "failed"
