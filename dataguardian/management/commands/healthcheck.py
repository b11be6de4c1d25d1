"""``manage.py healthcheck``: run the health checks now and print what they found.

Without options every enabled datasource and every storage location is checked. ``--datasource``
checks that one datasource only (by id or name; enabled or not, it was asked for) and
``--storage`` the storage locations only; both together check both. The exit status is 1 when
any check is not ok, so the command fits cron jobs and container health probes.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet

from datasources import health
from datasources.models import Datasource, HealthCheck
from storage.health import check_location
from storage.models import StorageLocation


class Command(BaseCommand):
    help = "Check datasources and storage locations now; exit 1 if any check is not ok."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--datasource", metavar="ID_OR_NAME", help="Check only this datasource."
        )
        parser.add_argument("--storage", action="store_true", help="Check the storage locations.")
        parser.add_argument(
            "--timeout",
            type=float,
            default=health.CHECK_TIMEOUT_SECONDS,
            help=f"Seconds per datasource check (default {health.CHECK_TIMEOUT_SECONDS:g}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        selector: str | None = options["datasource"]
        check_storage: bool = options["storage"]
        failures = 0
        total = 0
        if selector is not None or not check_storage:
            for datasource in self._datasources(selector):
                check = health.check_datasource(datasource, timeout=options["timeout"])
                total += 1
                failures += check.status != HealthCheck.Status.OK
                self._print_datasource(datasource, check)
        if check_storage or selector is None:
            for location in StorageLocation.objects.all():
                result = check_location(location)
                total += 1
                failures += result.status != StorageLocation.Status.HEALTHY
                available = (
                    "-"
                    if location.available_space_gb is None
                    else f"{location.available_space_gb} GB free"
                )
                line = f"storage     {location.name}  {result.status}  {available}"
                self._write(
                    line, result.message, ok=result.status == StorageLocation.Status.HEALTHY
                )
        if failures:
            raise CommandError(f"{failures} of {total} checks are not ok.", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"All {total} checks are ok."))

    def _datasources(self, selector: str | None) -> QuerySet[Datasource]:
        if selector is None:
            return Datasource.objects.filter(enabled=True)
        try:
            matches = Datasource.objects.filter(pk=uuid.UUID(selector))
        except ValueError:
            matches = Datasource.objects.filter(name=selector)
        if not matches.exists():
            raise CommandError(f"No datasource with id or name {selector!r}.")
        return matches

    def _print_datasource(self, datasource: Datasource, check: HealthCheck) -> None:
        latency = "-" if check.latency_ms is None else f"{check.latency_ms} ms"
        line = f"datasource  {datasource.name}  {check.status}  {latency}"
        self._write(line, check.error_message or "", ok=check.status == HealthCheck.Status.OK)

    def _write(self, line: str, message: str, *, ok: bool) -> None:
        text = f"{line}  {message}" if message else line
        self.stdout.write(self.style.SUCCESS(text) if ok else self.style.ERROR(text))
