"""Running a verification: the scratch target, the restore into it, the recorded outcome."""

from __future__ import annotations

import logging
import secrets as _random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from core import system_settings
from datasources.engines.verification import Check
from executions import heartbeat, recoverability
from executions.artifact import (
    ChunkReader,
    compression_of,
    expected_chunks,
    read_manifest,
    verify_chunks,
)
from executions.events import notify_execution
from executions.heartbeat import HEARTBEAT_INTERVAL
from executions.models import BackupExecution
from executions.pipeline.compression import open_decompressed
from executions.runlog import about, collecting
from executions.secrets import failure_text, secrets_of
from executions.verification.checks import VerificationRefused, checks_of, scratch_server
from notifications.models import NotificationType, Severity

logger = logging.getLogger(__name__)


def verify_backup(backup: BackupExecution) -> dict[str, Any]:
    """Restore ``backup`` into a scratch target, run the checks, record and return the
    outcome (``metadata["verification"]``, its log lines under ``"log"``). Never raises for
    a failed verification."""
    if not can_verify(backup):
        raise VerificationRefused(
            f"Only completed backups can be verified; execution {backup.id} is a "
            f"{backup.kind} that is {backup.status}."
        )
    with about(backup), collecting(backup) as tail:
        verification = _verify(backup)
        verification["log"] = tail.text()
    _record(backup, verification)
    if verification["status"] != "passed":
        failed = [check["detail"] for check in verification["checks"] if not check["ok"]]
        notify_execution(
            NotificationType.VERIFICATION_FAILED,
            Severity.CRITICAL,
            f"Verification of a backup of {backup.datasource.name} failed",
            verification["error"] or "; ".join(failed),
            backup,
        )
    return verification


def _verify(backup: BackupExecution) -> dict[str, Any]:
    logger.info("Verification of backup %s started", backup.id)
    assertions = [str(a) for a in backup.job.backup_options.get("verification_assertions") or []]
    checks: list[Check] = []
    details: dict[str, Any] = {}
    error: str | None = None
    restore_seconds: float | None = None
    secrets = secrets_of(backup)
    temp_dir = Path(system_settings.get("system.temp_directory")) / f"verify-{_random.token_hex(8)}"
    try:
        temp_dir.mkdir(parents=True, mode=0o700)
        engine = backup.datasource.engine()
        with engine.scratch(scratch_server(backup), temp_dir) as scratch:
            secrets += scratch.secrets
            started = time.monotonic()
            result = _restore_into(backup, scratch.config, temp_dir)
            restore_seconds = round(time.monotonic() - started, 3)
            found = scratch.inspect({**scratch.config, **result}, assertions)
            checks, details = checks_of(backup, found), found.details
        for check in checks:
            logger.info("Check %s %s: %s", check.name, "ok" if check.ok else "FAILED", check.detail)
    except Exception as exc:
        error, stack = failure_text(exc, secrets)
        logger.warning("Verification of backup %s failed: %s\n%s", backup.id, error, stack)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    passed = error is None and all(check.ok for check in checks)
    if passed:
        logger.info(
            "Verification of backup %s passed (restored in %s s)", backup.id, restore_seconds
        )
    return {
        "status": "passed" if passed else "failed",
        "checks": [asdict(check) for check in checks],
        **({"counts": details} if details else {}),
        "restore_seconds": restore_seconds,
        "verified_at": timezone.now().isoformat(),
        "error": error,
    }


def can_verify(backup: BackupExecution) -> bool:
    return (
        backup.kind == BackupExecution.Kind.BACKUP
        and backup.status == BackupExecution.Status.COMPLETED
    )


def mark_queued(
    backup: BackupExecution, at: datetime | None = None, priority: int | None = None
) -> dict[str, Any]:
    """Record that a verification of ``backup`` waits for a worker; returns the marker. Its
    ``queued_at`` is the token of the message sent for it (``executions.tasks``), and its
    ``priority`` the one that message had, for a re-sent one."""
    marker: dict[str, Any] = {"status": "queued", "queued_at": (at or timezone.now()).isoformat()}
    if priority is not None:
        marker["priority"] = priority
    _record(backup, marker)
    return marker


def mark_running(
    backup: BackupExecution, worker: str, at: datetime | None = None
) -> dict[str, Any]:
    """Record that a worker is verifying ``backup`` (it holds one of the
    ``system.max_concurrent_verifications`` slots until the outcome overwrites the marker).
    ``beat_at`` is renewed while it runs (``beating``); ``attempt`` counts the tries of this
    verification, so the reaper retries one lost with its worker a bounded number of times."""
    started = (at or timezone.now()).isoformat()
    previous = backup.metadata.get("verification") or {}
    attempt = int(previous.get("attempt") or 0) + 1 if previous.get("status") == "queued" else 1
    marker: dict[str, Any] = {
        "status": "running",
        "started_at": started,
        "beat_at": started,
        "worker": worker,
        "attempt": attempt,
    }
    if "priority" in previous:
        marker["priority"] = previous["priority"]
    _record(backup, marker)
    return marker


def beat(backup_id: Any, started_at: str) -> bool:
    """Renew ``beat_at`` of the running verification that started at ``started_at``; False
    once it is no longer that one (finished, or taken over)."""
    with transaction.atomic():
        row = BackupExecution.objects.select_for_update().filter(pk=backup_id).first()
        marker = (row.metadata.get("verification") or {}) if row else {}
        if marker.get("status") != "running" or marker.get("started_at") != started_at:
            return False
        marker = {**marker, "beat_at": timezone.now().isoformat()}
        BackupExecution.objects.filter(pk=backup_id).update(
            metadata={**row.metadata, "verification": marker}  # type: ignore[union-attr]
        )
    return True


@contextmanager
def beating(backup: BackupExecution, interval: float = HEARTBEAT_INTERVAL) -> Iterator[None]:
    """Renew the running marker's ``beat_at`` every ``interval`` seconds from a thread while
    the block runs: the reaper takes a verification whose beat stopped for a lost one."""
    started_at = str((backup.metadata.get("verification") or {}).get("started_at") or "")
    with heartbeat.beating(
        lambda: beat(backup.pk, started_at),
        f"Heartbeat of the verification of {backup.pk}",
        interval,
    ):
        yield


def record_lost(backup: BackupExecution, marker: dict[str, Any], now: datetime) -> None:
    """Record the verification of ``backup`` as failed because its worker was lost on every
    try (``marker`` is its last running marker), and tell the operator."""
    error = (
        f"The worker verifying this backup was lost {marker.get('attempt', 1)} time(s), last "
        f"{marker.get('worker') or 'a worker'} with no heartbeat since "
        f"{marker.get('beat_at') or marker.get('started_at')}: the restore may take more memory "
        "or time than the worker has."
    )
    outcome: dict[str, Any] = {
        "status": "failed",
        "checks": [],
        "restore_seconds": None,
        "verified_at": now.isoformat(),
        "error": error,
    }
    _record(backup, outcome)
    notify_execution(
        NotificationType.VERIFICATION_FAILED,
        Severity.CRITICAL,
        f"Verification of a backup of {backup.datasource.name} failed",
        error,
        backup,
    )


def _record(backup: BackupExecution, verification: dict[str, Any]) -> None:
    # Read-modify-write of the JSON alone: the rest of the row is the backup's own record.
    with transaction.atomic():
        row = BackupExecution.objects.select_for_update().get(pk=backup.pk)
        metadata = {**row.metadata, "verification": verification}
        BackupExecution.objects.filter(pk=backup.pk).update(metadata=metadata)
        recoverability.record_verification(backup, verification)
    backup.metadata = metadata


# --- Restoring into the scratch target ------------------------------------------------------


class _CountingProgress:
    """Counts bytes without writing anywhere: a verification has no execution of its own to
    report progress into, and the backup's record must stay as the backup left it."""

    def __init__(self) -> None:
        self.phase = "verify"
        self.done = 0

    def start(self, phase: str) -> None:
        self.phase, self.done = phase, 0

    def add(self, count: int) -> None:
        self.done += count


def _restore_into(
    backup: BackupExecution, config: dict[str, Any], temp_dir: Path
) -> dict[str, Any]:
    location = backup.storage_location
    adapter = location.adapter(location.config)
    manifest = read_manifest(adapter, backup)
    chunks = expected_chunks(adapter, backup, manifest)
    progress = _CountingProgress()
    verify_chunks(adapter, chunks, manifest, progress)
    work = temp_dir / "work"
    work.mkdir(mode=0o700)
    with ChunkReader(adapter, chunks, progress) as raw:
        stream = open_decompressed(raw, compression_of(manifest))
        result = backup.datasource.engine().restore(config, {}, stream, work, manifest)
        raw.check_complete()
    return result
