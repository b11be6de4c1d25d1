"""Per-type configuration is validated against the one schema each type declares."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from datasources.engines import ENGINES
from datasources.models import Datasource
from jobs.models import BackupJob
from storage.adapters import ADAPTERS
from storage.models import StorageLocation

pytestmark = pytest.mark.django_db

# The seed's own examples, one per type.
GOOD_CONNECTIONS: dict[str, dict[str, Any]] = {
    "postgres": {
        "host": "db.empresa.local",
        "port": 5432,
        "database": "app_prod",
        "username": "backup_user",
        "password": "senhasegura",
    },
    "mysql": {
        "host": "127.0.0.1",
        "port": 3306,
        "database": "shop",
        "username": "root",
        "password": "",
        "ssl_enabled": True,
    },
    "mongodb": {"host": "mongo", "database": "app", "username": "u", "password": "p"},
    "sqlserver": {
        "host": "mssql",
        "port": 1433,
        "database": "erp",
        "username": "sa",
        "password": "p",
    },
    "sqlite": {"file_path": "/var/lib/app/app.db"},
    "files": {
        "source_path": "/srv/uploads",
        "include_patterns": ["*.jpg", "*.png"],
        "exclude_patterns": ["*.log", "temp/*"],
    },
}
GOOD_STORAGE: dict[str, dict[str, Any]] = {
    "local": {"path": "/var/backups", "max_size_gb": 100},
    "ssh": {
        "host": "nas.empresa.local",
        "port": 22,
        "username": "backup",
        "private_key": "-----BEGIN RSA PRIVATE KEY-----\n...",
        "remote_path": "/mnt/storage",
    },
    "s3": {
        "endpoint": None,
        "bucket": "company-backups",
        "region": "us-east-1",
        "access_key_id": "AKIA",
        "secret_access_key": "xyz",
        "storage_class": "STANDARD_IA",
    },
    "minio": {
        "endpoint": "http://minio.local:9000",
        "bucket": "backups",
        "access_key": "a",
        "secret_key": "b",
        "use_ssl": False,
    },
    "backblaze": {
        "bucket_id": "4a48fe8875c6214145260818",
        "bucket_name": "my-backups",
        "application_key_id": "0014",
        "application_key": "K001",
    },
}


def test_every_registered_type_has_a_good_example_here():
    assert set(GOOD_CONNECTIONS) == set(ENGINES.names())
    assert set(GOOD_STORAGE) == set(ADAPTERS.names())


@pytest.mark.parametrize("kind", sorted(GOOD_CONNECTIONS))
def test_the_seed_connection_examples_are_valid(kind):
    ds = Datasource(name="x", type=kind, connection_config=GOOD_CONNECTIONS[kind])
    ds.full_clean()


def test_a_database_port_defaults_to_the_engines_port():
    ds = Datasource(name="x", type="mongodb", connection_config=GOOD_CONNECTIONS["mongodb"])
    ds.full_clean()
    assert ds.connection_config["port"] == 27017


@pytest.mark.parametrize("kind", sorted(GOOD_STORAGE))
def test_the_seed_storage_examples_are_valid(kind):
    StorageLocation(name="x", type=kind, config=GOOD_STORAGE[kind]).full_clean()


def _errors(obj) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        obj.full_clean()
    return info.value.message_dict


def test_an_unknown_datasource_type_is_a_clear_error():
    errors = _errors(Datasource(name="x", type="oracle", connection_config={}))
    assert "type" in errors


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"host": "h", "database": "d", "username": "u", "port": "abc"}, "port"),
        ({"host": "h", "database": "d", "username": "u", "port": 70000}, "port"),
        ({"database": "d", "username": "u"}, "host"),
        ({"host": "h", "database": "d", "username": "u", "colour": "blue"}, "colour"),
        ("not an object", "object"),
    ],
)
def test_a_malformed_postgres_config_names_the_field(config, message):
    errors = _errors(Datasource(name="x", type="postgres", connection_config=config))
    assert any(message in line for line in errors["connection_config"]), errors


def test_a_relative_sqlite_path_is_refused():
    errors = _errors(Datasource(name="x", type="sqlite", connection_config={"file_path": "a.db"}))
    assert any("absolute" in line for line in errors["connection_config"])


def test_an_ssh_location_needs_a_password_or_a_key():
    config = {"host": "nas", "username": "u", "remote_path": "/backups"}
    errors = _errors(StorageLocation(name="x", type="ssh", config=config))
    assert any("private_key" in line for line in errors["config"])


def test_an_s3_location_without_a_bucket_is_refused():
    config = dict(GOOD_STORAGE["s3"])
    del config["bucket"]
    errors = _errors(StorageLocation(name="x", type="s3", config=config))
    assert any(line.startswith("bucket") for line in errors["config"])


def test_tags_must_be_a_list_of_strings():
    ds = Datasource(
        name="x", type="sqlite", connection_config=GOOD_CONNECTIONS["sqlite"], tags=["ok", 3]
    )
    assert "tags" in _errors(ds)


def test_a_job_validates_cron_timezone_retention_and_options(datasource, storage_location):
    job = BackupJob(
        name="nightly",
        datasource=datasource,
        storage_location=storage_location,
        schedule_cron="61 * * *",
        schedule_timezone="Mars/Olympus",
        retention_policy={"keep_daily": -1},
        backup_options={"compression": "zstd", "compression_level": 40},
    )
    errors = _errors(job)
    assert set(errors) >= {
        "schedule_cron",
        "schedule_timezone",
        "retention_policy",
        "backup_options",
    }
    assert any("compression_level" in line for line in errors["backup_options"])


def test_an_unknown_option_is_reported_with_the_other_field_errors(backup_job):
    backup_job.backup_options = {"compression": "rar", "bogus": 1}
    errors = _errors(backup_job)["backup_options"]
    assert any(line.startswith("bogus: Unknown field") for line in errors), errors
    assert any(line.startswith("compression:") for line in errors), errors


def test_a_job_with_the_seed_example_is_valid_and_gets_defaults(datasource, storage_location):
    job = BackupJob(
        name="Backup Diário Produção",
        datasource=datasource,
        storage_location=storage_location,
        schedule_cron="0 3 * * *",
        schedule_timezone="America/Sao_Paulo",
        retention_policy={
            "keep_daily": 7,
            "keep_weekly": 4,
            "keep_monthly": 12,
            "auto_delete": True,
        },
        backup_options={
            "compression": "gzip",
            "compression_level": 6,
            "parallel_jobs": 4,
            "exclude_tables": ["logs_*", "temp_*"],
        },
    )
    job.full_clean()
    assert job.backup_options["include_tables"] == []
    assert job.backup_options["compression_threads"] == 1
