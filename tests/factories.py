"""factory-boy factories for the models."""

from __future__ import annotations

import factory.django
from factory import declarations

from datasources.models import Datasource
from executions.models import BackupExecution
from jobs.models import BackupJob
from storage.models import StorageLocation


class DatasourceFactory(factory.django.DjangoModelFactory[Datasource]):
    class Meta:
        model = Datasource

    name = declarations.Sequence(lambda n: f"database {n}")
    type = "postgres"
    connection_config = declarations.LazyFunction(
        lambda: {
            "host": "127.0.0.1",
            "port": 5432,
            "database": "app",
            "username": "backup",
            "password": "s3cr3t-Passw0rd",
            "ssl_enabled": False,
        }
    )
    tags = declarations.LazyFunction(lambda: ["production"])


class StorageLocationFactory(factory.django.DjangoModelFactory[StorageLocation]):
    class Meta:
        model = StorageLocation

    name = declarations.Sequence(lambda n: f"storage {n}")
    type = "local"
    config = declarations.LazyFunction(lambda: {"path": "/var/backups"})


class BackupJobFactory(factory.django.DjangoModelFactory[BackupJob]):
    class Meta:
        model = BackupJob

    name = declarations.Sequence(lambda n: f"job {n}")
    datasource = declarations.SubFactory(DatasourceFactory)
    storage_location = declarations.SubFactory(StorageLocationFactory)
    schedule_cron = "0 3 * * *"
    schedule_timezone = "America/Sao_Paulo"


class BackupExecutionFactory(factory.django.DjangoModelFactory[BackupExecution]):
    class Meta:
        model = BackupExecution

    job = declarations.SubFactory(BackupJobFactory)
    datasource = declarations.LazyAttribute(lambda o: o.job.datasource)
    storage_location = declarations.LazyAttribute(lambda o: o.job.storage_location)
