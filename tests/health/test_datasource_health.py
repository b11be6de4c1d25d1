"""Datasource health checks against real servers, files and loopback sockets; the status and
notification rules against real ``health_checks`` rows.

Needs PostgreSQL on 127.0.0.1:5432 (user ``postgres``) and MariaDB on 127.0.0.1:3306 (root,
empty password). The local PostgreSQL trusts every login from 127.0.0.1 (``pg_hba.conf``
``trust``), so it never checks a password: its refused login is a role that may not log in,
which the server rejects whatever the password. A wrong password is tested on MariaDB, which
does check passwords. No MongoDB or SQL Server can run here: their checks are tested in
tests/engines/test_mongodb_engine.py and test_sqlserver_engine.py against stand-ins.
"""

# The SQL here is built from names the tests generate themselves.

from __future__ import annotations

import secrets
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.utils import timezone

from dataguardian.celery import app
from datasources import health
from datasources.engines.files import FilesEngine
from datasources.engines.files import health as files_health
from datasources.engines.mysql import MySQLEngine
from datasources.engines.postgres import PostgresEngine
from datasources.engines.sqlite import SQLiteEngine
from datasources.models import Datasource, HealthCheck
from datasources.tasks import run_health_checks
from notifications.models import Notification
from tests.factories import DatasourceFactory

HOST = "127.0.0.1"
TIMEOUT = 1.0
PASSWORD = "pw-" + secrets.token_hex(8)
MARIADB_ROOT = ["mariadb", "-h", HOST, "-P", "3306", "-uroot", "--protocol=TCP", "-e"]


# --- loopback sockets ------------------------------------------------------------------------


def _closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listener that accepts connections and never sends a byte."""
    server = socket.socket()
    server.bind((HOST, 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    server.close()


def _timed(check: Any, *args: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = check(*args)
    return result, time.monotonic() - started


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_config(**overrides: Any) -> dict[str, Any]:
    config = {
        "host": HOST,
        "port": 5432,
        "database": "postgres",
        "username": "postgres",
        "password": PASSWORD,
        "ssl_enabled": False,
    }
    return config | overrides


@pytest.fixture
def nologin_role() -> Iterator[str]:
    role = "dgtest_health_" + secrets.token_hex(4)
    with psycopg.connect(host=HOST, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} NOLOGIN PASSWORD '{PASSWORD}'")
    yield role
    with psycopg.connect(host=HOST, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f"DROP ROLE {role}")


def test_a_running_postgres_server_is_ok_with_version_connections_and_uptime():
    result = PostgresEngine().check_health(_pg_config(), TIMEOUT)

    assert result.status == "ok", result.error_message
    assert result.metadata["version"].startswith("PostgreSQL ")
    assert result.metadata["connections"] >= 1
    assert result.metadata["uptime_seconds"] >= 0
    assert result.latency_ms is not None


def test_a_postgres_login_the_server_refuses_is_auth_failed_without_the_password(nologin_role):
    result = PostgresEngine().check_health(_pg_config(username=nologin_role), TIMEOUT)

    assert result.status == "auth_failed"
    assert "not permitted to log in" in result.error_message
    assert PASSWORD not in result.error_message


def test_a_closed_postgres_port_is_unreachable():
    result = PostgresEngine().check_health(_pg_config(port=_closed_port()), TIMEOUT)

    assert result.status == "unreachable"
    assert "Connection refused" in result.error_message


def test_a_postgres_port_that_never_answers_times_out_in_time(silent_port):
    result, seconds = _timed(PostgresEngine().check_health, _pg_config(port=silent_port), TIMEOUT)

    assert result.status == "timeout"
    assert seconds < TIMEOUT + 2


# --- MariaDB ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mariadb_user() -> Iterator[str]:
    user = "dgtest_health_" + secrets.token_hex(4)
    hosts = ("127.0.0.1", "%")
    for host in hosts:
        subprocess.run(
            [*MARIADB_ROOT, f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{PASSWORD}'"],
            check=True,
        )
    yield user
    for host in hosts:
        subprocess.run([*MARIADB_ROOT, f"DROP USER '{user}'@'{host}'"], check=True)


def _my_config(user: str, **overrides: Any) -> dict[str, Any]:
    config = {
        "host": HOST,
        "port": 3306,
        "database": "mysql",
        "username": user,
        "password": PASSWORD,
        "ssl_enabled": False,
    }
    return config | overrides


def test_a_running_mariadb_server_is_ok_with_version_threads_and_uptime(mariadb_user):
    result = MySQLEngine().check_health(_my_config(mariadb_user), TIMEOUT)

    assert result.status == "ok", result.error_message
    assert "MariaDB" in result.metadata["version"]
    assert result.metadata["threads_connected"] >= 1
    assert result.metadata["uptime_seconds"] > 0


def test_a_wrong_mariadb_password_is_auth_failed_without_either_password(mariadb_user):
    wrong = "wrong-" + secrets.token_hex(8)

    result = MySQLEngine().check_health(_my_config(mariadb_user, password=wrong), TIMEOUT)

    assert result.status == "auth_failed"
    assert "Access denied" in result.error_message
    assert wrong not in result.error_message
    assert PASSWORD not in result.error_message


def test_a_closed_mariadb_port_is_unreachable(mariadb_user):
    result = MySQLEngine().check_health(_my_config(mariadb_user, port=_closed_port()), TIMEOUT)

    assert result.status == "unreachable"


def test_a_mariadb_port_that_never_answers_times_out_in_time(mariadb_user, silent_port):
    result, seconds = _timed(
        MySQLEngine().check_health, _my_config(mariadb_user, port=silent_port), TIMEOUT
    )

    assert result.status == "timeout"
    assert seconds < TIMEOUT + 2


# --- SQLite and files ------------------------------------------------------------------------


def _sqlite_file(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t (v) VALUES (?)", [("x" * 100,)] * 200)
    conn.close()
    return path


def test_a_sound_sqlite_file_is_ok(tmp_path):
    path = _sqlite_file(tmp_path / "app.db")

    result = SQLiteEngine().check_health({"file_path": str(path)}, TIMEOUT)

    assert result.status == "ok", result.error_message
    assert result.metadata["check"] == "quick_check"
    assert result.metadata["size_bytes"] == path.stat().st_size


def test_a_corrupted_sqlite_file_is_an_error(tmp_path):
    path = _sqlite_file(tmp_path / "app.db")
    data = bytearray(path.read_bytes())
    data[100:4096] = secrets.token_bytes(4096 - 100)  # the first page: header fields, schema
    path.write_bytes(bytes(data))

    result = SQLiteEngine().check_health({"file_path": str(path)}, TIMEOUT)

    assert result.status == "error"
    assert str(path) in result.error_message


def test_a_missing_sqlite_file_is_unreachable(tmp_path):
    result = SQLiteEngine().check_health({"file_path": str(tmp_path / "nope.db")}, TIMEOUT)

    assert result.status == "unreachable"


def test_a_readable_directory_is_ok_with_its_disk_usage(tmp_path):
    result = FilesEngine().check_health({"source_path": str(tmp_path)}, TIMEOUT)

    assert result.status == "ok"
    assert 0 <= result.metadata["disk_used_percent"] <= 100
    assert result.metadata["disk_total_bytes"] > 0
    assert result.warning == ""


def test_a_directory_on_a_disk_above_the_threshold_is_ok_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(files_health, "DISK_WARNING_PERCENT", -1.0)

    result = FilesEngine().check_health({"source_path": str(tmp_path)}, TIMEOUT)

    assert result.status == "ok"
    assert "full" in result.warning


def test_a_missing_directory_is_unreachable(tmp_path):
    result = FilesEngine().check_health({"source_path": str(tmp_path / "gone")}, TIMEOUT)

    assert result.status == "unreachable"
    assert "does not exist" in result.error_message


# --- status, notifications, pruning ----------------------------------------------------------


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "app.db"


@pytest.fixture
def sqlite_source(db, sqlite_path) -> Datasource:
    """A datasource whose health the test switches by creating or removing its file."""
    ds: Datasource = DatasourceFactory.create(
        type="sqlite", connection_config={"file_path": str(sqlite_path)}
    )
    return ds


def _check_times(ds: Datasource, times: int) -> list[HealthCheck]:
    return [health.check_datasource(ds, timeout=TIMEOUT) for _ in range(times)]


def _notifications(ds: Datasource, type_: str) -> int:
    return Notification.objects.filter(entity_id=ds.pk, type=type_).count()


def test_a_passing_check_records_a_row_and_makes_the_datasource_healthy(sqlite_source, sqlite_path):
    _sqlite_file(sqlite_path)

    check = health.check_datasource(sqlite_source, timeout=TIMEOUT)

    sqlite_source.refresh_from_db()
    assert check.status == "ok"
    assert sqlite_source.status == Datasource.Status.HEALTHY
    assert sqlite_source.last_health_check_at == check.checked_at
    assert HealthCheck.objects.filter(datasource=sqlite_source).count() == 1


def test_a_single_failure_makes_the_datasource_warning(sqlite_source):
    _check_times(sqlite_source, 1)

    sqlite_source.refresh_from_db()
    assert sqlite_source.status == Datasource.Status.WARNING
    assert _notifications(sqlite_source, "connection_lost") == 0


def test_three_failures_in_a_row_make_it_critical_and_notify_once(sqlite_source):
    _check_times(sqlite_source, 3)

    sqlite_source.refresh_from_db()
    assert sqlite_source.status == Datasource.Status.CRITICAL
    lost = Notification.objects.get(entity_id=sqlite_source.pk, type="connection_lost")
    assert lost.severity == "critical"
    assert "does not exist" in lost.message


def test_a_fourth_and_fifth_failure_do_not_notify_again(sqlite_source):
    _check_times(sqlite_source, 5)

    assert _notifications(sqlite_source, "connection_lost") == 1


def test_the_first_success_after_a_lost_connection_notifies_its_restoration_once(
    sqlite_source, sqlite_path
):
    _check_times(sqlite_source, 3)
    _sqlite_file(sqlite_path)

    _check_times(sqlite_source, 2)

    sqlite_source.refresh_from_db()
    assert sqlite_source.status == Datasource.Status.HEALTHY
    restored = Notification.objects.get(entity_id=sqlite_source.pk, type="connection_restored")
    assert restored.severity == "info"


def test_a_success_after_fewer_than_three_failures_notifies_no_loss_or_restoration(
    sqlite_source, sqlite_path
):
    _check_times(sqlite_source, 2)
    _sqlite_file(sqlite_path)

    _check_times(sqlite_source, 1)

    # Only the first failure's health_degraded (tests/alerts/test_health_degraded.py).
    types = Notification.objects.filter(entity_id=sqlite_source.pk).values_list("type", flat=True)
    assert list(types) == ["health_degraded"]


def test_failures_recorded_before_a_restart_count_towards_the_alert(sqlite_source):
    earlier = timezone.now() - timedelta(minutes=10)
    for minutes in (0, 5):
        HealthCheck.objects.create(
            datasource=sqlite_source,
            checked_at=earlier + timedelta(minutes=minutes),
            status=HealthCheck.Status.UNREACHABLE,
        )

    _check_times(sqlite_source, 1)

    assert _notifications(sqlite_source, "connection_lost") == 1


def test_a_check_that_passes_with_a_warning_makes_the_datasource_warning(db, tmp_path, monkeypatch):
    monkeypatch.setattr(files_health, "DISK_WARNING_PERCENT", -1.0)
    ds = DatasourceFactory.create(type="files", connection_config={"source_path": str(tmp_path)})

    check = health.check_datasource(ds, timeout=TIMEOUT)

    ds.refresh_from_db()
    assert check.status == "ok"
    assert ds.status == Datasource.Status.WARNING
    assert "full" in (check.error_message or "")


def test_rows_older_than_the_retention_are_pruned_and_recent_ones_kept(sqlite_source):
    old = HealthCheck.objects.create(
        datasource=sqlite_source,
        checked_at=timezone.now() - timedelta(days=health.HISTORY_RETENTION_DAYS, hours=1),
        status=HealthCheck.Status.OK,
    )
    recent = HealthCheck.objects.create(
        datasource=sqlite_source,
        checked_at=timezone.now() - timedelta(days=health.HISTORY_RETENTION_DAYS - 1),
        status=HealthCheck.Status.OK,
    )

    deleted = health.prune_health_checks()

    assert deleted == 1
    assert not HealthCheck.objects.filter(pk=old.pk).exists()
    assert HealthCheck.objects.filter(pk=recent.pk).exists()


def test_a_secret_in_an_unexpected_error_is_masked(db, monkeypatch):
    ds = DatasourceFactory.create(connection_config=_pg_config())

    def explode(self: PostgresEngine, config: dict[str, Any], timeout: float) -> Any:
        raise RuntimeError(f"driver bug near {config['password']}")

    monkeypatch.setattr(PostgresEngine, "check_health", explode)

    check = health.check_datasource(ds, timeout=TIMEOUT)

    assert check.status == "error"
    assert PASSWORD not in (check.error_message or "")
    assert "RuntimeError" in (check.error_message or "")


def test_a_secret_in_an_unexpected_error_is_not_logged(db, monkeypatch, caplog):
    ds = DatasourceFactory.create(connection_config=_pg_config())

    def explode(self: PostgresEngine, config: dict[str, Any], timeout: float) -> Any:
        raise RuntimeError(f"driver bug near {config['password']}")

    monkeypatch.setattr(PostgresEngine, "check_health", explode)

    health.check_datasource(ds, timeout=TIMEOUT)

    assert "driver bug" in caplog.text
    assert PASSWORD not in caplog.text


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_the_periodic_run_checks_enabled_datasources_and_skips_disabled_ones(
    db, tmp_path, eager_tasks
):
    enabled = DatasourceFactory.create(
        type="files", connection_config={"source_path": str(tmp_path)}
    )
    disabled = DatasourceFactory.create(
        type="files", connection_config={"source_path": str(tmp_path)}, enabled=False
    )

    run_health_checks.delay()

    assert HealthCheck.objects.filter(datasource=enabled).count() == 1
    assert not HealthCheck.objects.filter(datasource=disabled).exists()


def test_the_periodic_run_prunes_old_rows(sqlite_source, eager_tasks):
    HealthCheck.objects.create(
        datasource=sqlite_source,
        checked_at=timezone.now() - timedelta(days=health.HISTORY_RETENTION_DAYS + 1),
        status=HealthCheck.Status.OK,
    )

    run_health_checks.delay()

    assert HealthCheck.objects.filter(datasource=sqlite_source).count() == 1  # today's check
