"""The migrations create every seed table, column, enum value, key, index and constraint.

Checked against PostgreSQL's own catalog, not against the models.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

# PostgreSQL is the production metadata database; the embedded SQLite is made by the same
# migrations, which Django checks there by running them.
pytestmark = [pytest.mark.django_db, pytest.mark.server]

TS = "timestamp with time zone"
VC = "character varying"

# table -> column -> (data type, nullable, max length). Seed columns first, then our extras.
SEED_COLUMNS: dict[str, dict[str, tuple[str, bool, int | None]]] = {
    "datasources": {
        "id": ("uuid", False, None),
        "name": (VC, False, 255),
        "type": (VC, False, None),
        "connection_config": ("jsonb", False, None),
        "status": (VC, False, None),
        "last_health_check_at": (TS, True, None),
        "enabled": ("boolean", False, None),
        "tags": ("jsonb", False, None),
        "created_at": (TS, False, None),
        "updated_at": (TS, False, None),
    },
    "storage_locations": {
        "id": ("uuid", False, None),
        "name": (VC, False, 255),
        "type": (VC, False, None),
        "config": ("jsonb", False, None),
        "is_default": ("boolean", False, None),
        "available_space_gb": ("numeric", True, None),
        "status": (VC, False, None),
        "created_at": (TS, False, None),
        "updated_at": (TS, False, None),
    },
    "backup_jobs": {
        "id": ("uuid", False, None),
        "name": (VC, False, 255),
        "datasource_id": ("uuid", False, None),
        "storage_location_id": ("uuid", False, None),
        "schedule_cron": (VC, False, 100),
        "schedule_timezone": (VC, False, 50),
        "enabled": ("boolean", False, None),
        "retention_policy": ("jsonb", False, None),
        "backup_options": ("jsonb", False, None),
        "last_execution_at": (TS, True, None),
        "next_execution_at": (TS, True, None),
        "created_at": (TS, False, None),
        "updated_at": (TS, False, None),
    },
    "backup_executions": {
        "id": ("uuid", False, None),
        "job_id": ("uuid", False, None),
        "datasource_id": ("uuid", False, None),
        "storage_location_id": ("uuid", False, None),
        "status": (VC, False, None),
        "started_at": (TS, True, None),
        "finished_at": (TS, True, None),
        "duration_seconds": ("integer", True, None),
        "size_bytes": ("bigint", True, None),
        "compressed_size_bytes": ("bigint", True, None),
        "backup_path": ("text", True, None),
        "backup_type": (VC, False, None),
        "files_count": ("integer", True, None),
        "error_message": ("text", True, None),
        "error_stack": ("text", True, None),
        "metadata": ("jsonb", False, None),
        "created_at": (TS, False, None),
    },
    "backup_chunks": {
        "id": ("uuid", False, None),
        "execution_id": ("uuid", False, None),
        "chunk_number": ("integer", False, None),
        "file_path": ("text", False, None),
        "size_bytes": ("bigint", False, None),
        "checksum": (VC, False, 64),
        "created_at": (TS, False, None),
    },
    "health_checks": {
        "id": ("uuid", False, None),
        "datasource_id": ("uuid", False, None),
        "checked_at": (TS, False, None),
        "status": (VC, False, None),
        "latency_ms": ("integer", True, None),
        "error_message": ("text", True, None),
        "metadata": ("jsonb", False, None),
    },
    "notifications": {
        "id": ("uuid", False, None),
        "type": (VC, False, None),
        "severity": (VC, False, None),
        "entity_type": (VC, False, None),
        "entity_id": ("uuid", True, None),
        "title": (VC, False, 255),
        "message": ("text", False, None),
        "metadata": ("jsonb", False, None),
        "read_at": (TS, True, None),
        "created_at": (TS, False, None),
    },
    "system_settings": {
        "key": (VC, False, 100),
        "value": ("jsonb", True, None),
        "description": ("text", False, None),
        "updated_at": (TS, False, None),
    },
}

EXTRA_EXECUTION_COLUMNS = {
    "kind",
    "trigger",
    "scheduled_for",
    "source_execution_id",
    "attempt",
    "heartbeat_at",
    "worker",
    "progress",
}

SEED_ENUMS: dict[tuple[str, str], list[str]] = {
    ("datasources", "type"): ["postgres", "mysql", "mongodb", "sqlserver", "sqlite", "files"],
    ("datasources", "status"): ["healthy", "warning", "critical", "unknown"],
    ("storage_locations", "type"): ["local", "s3", "ssh", "minio", "backblaze"],
    ("storage_locations", "status"): ["healthy", "full", "unreachable", "unknown"],
    ("backup_executions", "status"): ["queued", "running", "completed", "failed", "cancelled"],
    ("backup_executions", "backup_type"): ["full", "incremental", "differential"],
    ("health_checks", "status"): ["ok", "timeout", "auth_failed", "unreachable", "error"],
    ("notifications", "type"): [
        "backup_failed",
        "backup_success",
        "connection_lost",
        "storage_full",
        "storage_unreachable",
        "health_degraded",
        "connection_restored",
        "cleanup_completed",
    ],
    ("notifications", "severity"): ["info", "warning", "critical"],
    ("notifications", "entity_type"): ["datasource", "backup_job", "storage_location", "system"],
}

SEED_FOREIGN_KEYS = {
    ("backup_jobs", "datasource_id", "datasources"),
    ("backup_jobs", "storage_location_id", "storage_locations"),
    ("backup_executions", "job_id", "backup_jobs"),
    ("backup_executions", "datasource_id", "datasources"),
    ("backup_executions", "storage_location_id", "storage_locations"),
    ("backup_chunks", "execution_id", "backup_executions"),
    ("health_checks", "datasource_id", "datasources"),
}


def _query(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


@pytest.mark.parametrize("table", sorted(SEED_COLUMNS))
def test_every_seed_column_exists_with_its_type_and_nullability(table):
    rows = _query(
        "SELECT column_name, data_type, is_nullable, character_maximum_length "
        "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s",
        (table,),
    )
    actual = {name: (dtype, nullable == "YES", length) for name, dtype, nullable, length in rows}
    assert actual, f"table {table} does not exist"
    for column, (dtype, nullable, length) in SEED_COLUMNS[table].items():
        assert column in actual, f"{table}.{column} is missing"
        a_type, a_null, a_len = actual[column]
        assert a_type == dtype, f"{table}.{column} is {a_type}, expected {dtype}"
        assert a_null == nullable, f"{table}.{column} nullability"
        if length is not None:
            assert a_len == length, f"{table}.{column} length {a_len}, expected {length}"


def test_executions_carry_the_extra_columns_for_progress_and_scheduling():
    rows = _query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'backup_executions'"
    )
    assert {r[0] for r in rows} >= EXTRA_EXECUTION_COLUMNS


def test_every_primary_key_is_a_uuid_except_the_settings_key():
    rows = _query(
        """
        SELECT tc.table_name, kcu.column_name, c.data_type
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage kcu
          ON tc.constraint_name = kcu.constraint_name AND tc.table_name = kcu.table_name
        JOIN information_schema.columns c
          ON c.table_name = tc.table_name AND c.column_name = kcu.column_name
        WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_name = ANY(%s)
        """,
        (list(SEED_COLUMNS),),
    )
    keys = {table: (column, dtype) for table, column, dtype in rows}
    assert set(keys) == set(SEED_COLUMNS)
    for table, (column, dtype) in keys.items():
        if table == "system_settings":
            assert (column, dtype) == ("key", VC)
        else:
            assert (column, dtype) == ("id", "uuid"), table


def test_every_seed_foreign_key_exists():
    rows = _query(
        """
        SELECT tc.table_name, kcu.column_name, ccu.table_name
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name
        JOIN information_schema.constraint_column_usage ccu
          ON tc.constraint_name = ccu.constraint_name
        WHERE tc.constraint_type = 'FOREIGN KEY'
        """
    )
    assert set(rows) >= SEED_FOREIGN_KEYS


@pytest.mark.parametrize(("table", "column"), sorted(SEED_ENUMS))
def test_every_enum_value_is_enforced_by_a_check_constraint(table, column):
    definitions = [
        row[0]
        for row in _query(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'c' AND conrelid = %s::regclass",
            (table,),
        )
        if f"{column})::text" in row[0] or f"({column} " in row[0]
    ]
    assert definitions, f"no check constraint on {table}.{column}"
    for value in SEED_ENUMS[(table, column)]:
        assert any(f"'{value}'" in d for d in definitions), f"{table}.{column} lacks {value}"


def test_a_status_outside_the_enum_is_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO datasources (id, name, type, connection_config, status, enabled, tags,"
            " created_at, updated_at) VALUES (gen_random_uuid(), 'x', 'postgres', '{}',"
            " 'exploded', true, '[]', now(), now())"
        )


def test_chunk_numbers_are_unique_per_execution():
    rows = _query(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'u' AND conrelid = 'backup_chunks'::regclass"
    )
    assert "UNIQUE (execution_id, chunk_number)" in [r[0] for r in rows]


def test_health_checks_are_indexed_by_datasource_and_newest_first():
    rows = _query("SELECT indexdef FROM pg_indexes WHERE tablename = 'health_checks'")
    assert any("(datasource_id, checked_at DESC)" in r[0] for r in rows)


def test_notifications_are_indexed_by_newest_first_then_read_state():
    rows = _query("SELECT indexdef FROM pg_indexes WHERE tablename = 'notifications'")
    assert any("(created_at DESC, read_at)" in r[0] for r in rows)


def test_only_one_storage_location_can_be_the_default():
    rows = _query("SELECT indexdef FROM pg_indexes WHERE tablename = 'storage_locations'")
    assert any(
        "UNIQUE" in r[0] and "(is_default)" in r[0] and "WHERE is_default" in r[0] for r in rows
    )


def test_a_job_has_at_most_one_execution_per_scheduled_slot():
    rows = _query("SELECT indexdef FROM pg_indexes WHERE tablename = 'backup_executions'")
    assert any("UNIQUE" in r[0] and "(job_id, scheduled_for)" in r[0] for r in rows)
