"""factory-boy factories for the models."""

from __future__ import annotations

import factory

from datasources.models import Datasource
from executions.models import BackupExecution
from jobs.models import BackupJob
from storage.models import StorageLocation


class DatasourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Datasource

    name = factory.Sequence(lambda n: f"database {n}")
    type = "postgres"
    connection_config = factory.LazyFunction(
        lambda: {
            "host": "127.0.0.1",
            "port": 5432,
            "database": "app",
            "username": "backup",
            "password": "s3cr3t-Passw0rd",
            "ssl_enabled": False,
        }
    )
    tags = factory.LazyFunction(lambda: ["production"])


class StorageLocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StorageLocation

    name = factory.Sequence(lambda n: f"storage {n}")
    type = "local"
    config = factory.LazyFunction(lambda: {"path": "/var/backups"})


class BackupJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BackupJob

    name = factory.Sequence(lambda n: f"job {n}")
    datasource = factory.SubFactory(DatasourceFactory)
    storage_location = factory.SubFactory(StorageLocationFactory)
    schedule_cron = "0 3 * * *"
    schedule_timezone = "America/Sao_Paulo"


class BackupExecutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BackupExecution

    job = factory.SubFactory(BackupJobFactory)
    datasource = factory.LazyAttribute(lambda o: o.job.datasource)
    storage_location = factory.LazyAttribute(lambda o: o.job.storage_location)
