"""Restore a backup now, in this process."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.display import human_duration, human_size
from datasources.models import Datasource
from executions.models import BackupExecution
from executions.restore import (
    RestoreRefused,
    perform_restore,
    restore_execution,
    would_overwrite,
)


def find_datasource(ref: str) -> Datasource:
    """A datasource by id or by exact name; an ambiguous or unknown reference is an error."""
    try:
        return Datasource.objects.get(pk=uuid.UUID(ref))
    except (ValueError, Datasource.DoesNotExist):
        pass
    found = list(Datasource.objects.filter(name=ref))
    if not found:
        raise CommandError(f"No datasource has the id or name {ref!r}.")
    if len(found) > 1:
        raise CommandError(f"{len(found)} datasources are named {ref!r}; give its id instead.")
    return found[0]


def find_backup(ref: str) -> BackupExecution:
    try:
        return BackupExecution.objects.select_related("datasource").get(pk=uuid.UUID(ref))
    except (ValueError, BackupExecution.DoesNotExist):
        raise CommandError(f"No backup execution has the id {ref!r}.") from None


class Command(BaseCommand):
    help = (
        "Restore a completed backup now, synchronously, into its datasource, another "
        "datasource of the same type (--target) or, for files and SQLite, a path "
        "(--target-path). Asks before writing over data unless --yes; exits non-zero if the "
        "restore fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("execution", help="The id of the backup execution to restore.")
        parser.add_argument("--target", help="The target datasource's id or name.")
        parser.add_argument("--target-path", help="Restore files or SQLite to this path.")
        parser.add_argument(
            "--clean",
            action="store_true",
            help="Replace what the target holds: PostgreSQL drops objects before recreating "
            "them, files overwrite existing ones, MongoDB drops each collection first.",
        )
        parser.add_argument(
            "--create-database",
            action="store_true",
            help="MySQL / MariaDB: create the target database if it does not exist.",
        )
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args: Any, **options: Any) -> None:
        backup = find_backup(options["execution"])
        target = find_datasource(options["target"]) if options["target"] else backup.datasource
        target_path = options["target_path"]
        if target_path:
            target_path = str(Path(target_path).resolve())
        engine = target.engine
        restore_options: dict[str, Any] = {}
        if options["clean"] and engine.replace_option:
            restore_options[engine.replace_option] = True
        if options["create_database"]:
            if "create_database" not in engine.restore_options():
                raise CommandError(f"--create-database does not apply to {engine.label} restores.")
            restore_options["create_database"] = True
        confirm = (
            bool(options["yes"])
            or not would_overwrite(target_path)
            or self._ask(backup, target, target_path)
        )
        try:
            execution = restore_execution(
                backup,
                target_datasource=target,
                target_path=target_path,
                options=restore_options,
                confirm=confirm,
            )
        except RestoreRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"restore execution {execution.id}: restoring backup {backup.id} into "
            f"{target_path or target.name}"
        )
        execution = BackupExecution.objects.select_related(
            "job", "datasource", "storage_location", "source_execution__datasource"
        ).get(pk=execution.pk)
        if not perform_restore(execution):
            execution.refresh_from_db()
            raise CommandError(
                f"restore execution {execution.id} {execution.status}: {execution.error_message}"
            )
        execution.refresh_from_db()
        self.stdout.write(
            self.style.SUCCESS(
                f"restore execution {execution.id} completed in "
                f"{human_duration(execution.duration_seconds)}: "
                f"{human_size(execution.compressed_size_bytes)} of stored backup restored into "
                f"{target_path or target.name}"
            )
        )

    def _ask(self, backup: BackupExecution, target: Datasource, target_path: str | None) -> bool:
        where = target_path or f"datasource {target.name}"
        answer = input(f"Restore backup {backup.id} over {where}? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            raise CommandError("Restore aborted; nothing was changed.")
        return True
