"""Re-encrypt every stored connection secret under the primary encryption key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from core.models import SystemSetting
from datasources.models import Datasource
from storage.models import StorageLocation


class Command(BaseCommand):
    help = (
        "Re-encrypt stored secrets with the first key of DATAGUARDIAN_ENCRYPTION_KEYS. Put the "
        "new key first and keep the old one after it, run this, then drop the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts: dict[str, int] = {}
        with transaction.atomic():
            # Reading decrypts with any configured key; saving encrypts with the first one.
            for model, field in (
                (Datasource, "connection_config"),
                (StorageLocation, "config"),
                (SystemSetting, "value"),
            ):
                count = 0
                for obj in model.objects.select_for_update().all():
                    obj.save(update_fields=[field])
                    count += 1
                counts[model.__name__] = count
        summary = ", ".join(f"{count} {name}" for name, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted: {summary}."))
