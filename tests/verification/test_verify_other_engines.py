"""Verification of MariaDB, SQLite and files backups."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from core import system_settings
from executions.verification import verify_backup
from tests.support.databases import MARIADB_CONNECTION, scratch_schemas

pytestmark = pytest.mark.django_db


def _checks(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in result["checks"]}


def test_a_good_mariadb_backup_passes_its_verification(backup_of, mariadb_shop):
    backup = backup_of(
        "mysql",
        {**MARIADB_CONNECTION, "database": mariadb_shop},
        verification_assertions=["SELECT count(*) = 3000 FROM t"],
    )
    result = verify_backup(backup)
    assert result["status"] == "passed", result
    assert _checks(result)["row_count"]["detail"].startswith("3010 rows restored")


def test_a_false_assertion_fails_a_mariadb_verification(backup_of, mariadb_shop):
    backup = backup_of(
        "mysql",
        {**MARIADB_CONNECTION, "database": mariadb_shop},
        verification_assertions=["SELECT count(*) > 1000000 FROM t"],
    )
    result = verify_backup(backup)
    assert result["status"] == "failed"
    assert _checks(result)["assertion_1"]["ok"] is False


def test_the_scratch_schema_is_dropped_after_a_mariadb_verification(backup_of, mariadb_shop):
    backup = backup_of("mysql", {**MARIADB_CONNECTION, "database": mariadb_shop})
    assert verify_backup(backup)["status"] == "passed"
    assert scratch_schemas() == []


def test_the_scratch_schema_is_dropped_after_a_failed_mariadb_verification(backup_of, mariadb_shop):
    backup = backup_of(
        "mysql",
        {**MARIADB_CONNECTION, "database": mariadb_shop},
        verification_assertions=["SELECT 0"],
    )
    assert verify_backup(backup)["status"] == "failed"
    assert scratch_schemas() == []


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "img").mkdir(parents=True)
    (root / "img" / "a.bin").write_bytes(os.urandom(200_000))
    (root / "index.html").write_text("<h1>hi</h1>")
    (root / "notes.txt").write_text("notes")
    return root


def test_a_files_backup_passes_when_every_file_comes_back_readable(backup_of, tree):
    backup = backup_of("files", {"source_path": str(tree)})
    result = verify_backup(backup)
    assert result["status"] == "passed", result
    checks = _checks(result)
    assert checks["file_count"]["detail"].startswith("3 files restored")
    assert checks["tree_readable"]["ok"] is True


def test_a_files_backup_fails_when_it_restores_fewer_files_than_it_recorded(backup_of, tree):
    backup = backup_of("files", {"source_path": str(tree)})
    backup.files_count = 4
    backup.save(update_fields=["files_count"])
    result = verify_backup(backup)
    assert result["status"] == "failed"
    assert _checks(result)["file_count"]["ok"] is False


def test_a_files_verification_leaves_nothing_in_the_temporary_directory(backup_of, tree):
    backup = backup_of("files", {"source_path": str(tree)})
    temp = Path(system_settings.get("system.temp_directory"))
    before = set(temp.glob("verify-*"))
    assert verify_backup(backup)["status"] == "passed"
    assert set(temp.glob("verify-*")) == before


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "app.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        connection.executemany(
            "INSERT INTO notes (body) VALUES (?)", [(f"note {n}",) for n in range(300)]
        )
    connection.close()
    return path


def test_a_sqlite_backup_passes_its_integrity_and_count_checks(backup_of, sqlite_file):
    backup = backup_of(
        "sqlite",
        {"file_path": str(sqlite_file)},
        verification_assertions=["SELECT count(*) = 300 FROM notes"],
    )
    result = verify_backup(backup)
    assert result["status"] == "passed", result
    checks = _checks(result)
    assert checks["integrity_check"]["detail"] == "PRAGMA integrity_check: ok"
    assert checks["row_count"]["detail"].startswith("300 rows restored")
    assert checks["assertion_1"]["ok"] is True
