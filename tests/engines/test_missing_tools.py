"""A worker without an engine's client tool says which package to install — when a datasource
is tested before it is saved, and when a backup or a restore runs — never with a traceback.

Runs the real engines with ``PATH`` emptied of their tools (the real MariaDB server stays up:
the check must refuse on the missing tool, not on the server).
"""

from __future__ import annotations

import pytest

from datasources.connection import test_connection as connection_test
from datasources.engines import ENGINES
from datasources.engines.tools import Tool
from executions.models import BackupExecution
from tests.support.databases import MARIADB_CONNECTION
from tests.support.jobs import run_failing_backup

MYSQL = {**MARIADB_CONNECTION, "database": "mysql"}


@pytest.fixture
def no_tools_on_path(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_the_connection_test_names_the_package_of_the_missing_tool(no_tools_on_path):
    result = connection_test("mysql", MYSQL)

    assert result.status == "error"
    assert "mariadb-dump or mysqldump" in result.error_message
    assert "install the mariadb-client package" in result.error_message
    assert "Traceback" not in result.error_message


def test_a_backup_without_its_tool_fails_naming_the_package(make_job, no_tools_on_path):
    execution = run_failing_backup(make_job("mysql", MYSQL))

    message = execution.error_message or ""
    assert execution.status == BackupExecution.Status.FAILED
    assert "install the mariadb-client package" in message
    assert "Traceback" not in message


def test_with_its_tools_present_the_connection_test_reaches_the_server():
    assert connection_test("mysql", MYSQL).status == "ok"


def test_a_tool_is_found_in_its_search_directories_before_path(tmp_path, monkeypatch):
    versioned = tmp_path / "lib" / "17" / "bin"
    versioned.mkdir(parents=True)
    program = versioned / "pg_dump"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    tool = Tool(
        ("pg_dump",), "postgresql-client", "backups", (str(tmp_path / "lib" / "*" / "bin"),)
    )

    assert tool.find() == str(program)
    assert Tool(("pg_dump",), "postgresql-client", "backups").find() is None


def test_every_engine_reports_no_missing_tool_when_its_tools_are_installed_here():
    """The tools this machine has (PostgreSQL's and MariaDB's) are found by the engines."""
    for name in ("postgres", "mysql", "sqlite", "files"):
        assert ENGINES.get(name)().missing_tools() == [], name
