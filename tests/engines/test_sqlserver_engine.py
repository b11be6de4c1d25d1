"""SQL Server backups, restores, verifications and health checks.

No SQL Server and none of its tools can run on this machine, so these tests use stand-ins
(tests/engines/sqlserver_standins.py): ``sqlpackage`` is a stand-in executable put first on
PATH, which records its argv, environment and response file and writes or copies known bytes;
the ``pymssql`` driver is exercised through its real error paths (a closed loopback port, a
loopback listener that never answers) and, for the paths where a server answers, through a
stand-in of ``pymssql.connect`` (monkeypatched) that returns recorded rows. That is the
limit: nothing here proves that a real sqlpackage accepts the response file as written, or
that the catalogue queries run on a real server.
"""

from __future__ import annotations

import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymssql
import pytest

from core import system_settings
from datasources.connection import test_connection as check_connection
from datasources.engines.base import EngineError, TransientEngineError
from datasources.engines.process import MASK
from datasources.engines.sqlserver import (
    SQLPACKAGE,
    BacpacStream,
    SQLServerConnectionSchema,
    SQLServerEngine,
)
from datasources.engines.sqlserver.sqlpackage import response_file
from executions.models import BackupExecution
from executions.restore import perform_restore, restore_execution
from executions.verification.run import verify_backup
from tests.engines.sqlserver_standins import (
    EXPORT_BYTES,
    TOOL_VERSION,
    FakeDatabase,
    FakeSqlServer,
    SqlPackageStandIn,
    export_bytes,
)
from tests.factories import DatasourceFactory
from tests.support.jobs import run_failing_backup
from tests.support.recipes import run_recipe

PASSWORD = "s3cret pass;word 'x' \\ :" + os.urandom(4).hex()
CONFIG: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 14330,
    "database": "erp",
    "username": "dg_backup",
    "password": PASSWORD,
    "ssl_enabled": False,
}
TABLES = [("dbo", "customers", 1200), ("dbo", "orders", 3400), ("sales", "order lines", 9000)]
PACKAGE = "sqlpackage (Microsoft DacFx, https://aka.ms/sqlpackage-linux)"
VERSION_LINE = "Microsoft SQL Server 2022 (RTM-CU14) (KB5038325) - 16.0.4135.4 (X64)"


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqlPackageStandIn:
    tool = SqlPackageStandIn(tmp_path / "bin", PASSWORD)
    monkeypatch.setenv("PATH", f"{tool.directory}{os.pathsep}{os.environ.get('PATH', '')}")
    return tool


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, standin: SqlPackageStandIn) -> FakeSqlServer:
    fake = FakeSqlServer(password=PASSWORD, databases={"erp": FakeDatabase(tables=list(TABLES))})

    def imported(name: str) -> bool:
        return any(run["params"].get("TargetDatabaseName") == name for run in standin.actions())

    fake.imported = imported
    monkeypatch.setattr(pymssql, "connect", fake.connect)
    return fake


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def no_sqlpackage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if any(Path(d, "sqlpackage").exists() for d in SQLPACKAGE.search_dirs):
        pytest.skip("a real sqlpackage is installed in its search directory")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def _read_all(stream: Any) -> bytes:
    chunks = []
    while chunk := stream.read(256 * 1024):
        chunks.append(chunk)
    return b"".join(chunks)


def _process_alive(pid: int) -> bool:
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line.rsplit(")", 1)[1].split()[0] != "Z"


# --- Backup ---------------------------------------------------------------------------------


def test_an_export_streams_the_bacpac_and_records_the_catalogue(standin, server, work_dir):
    with SQLServerEngine().backup(CONFIG, {}, work_dir) as stream:
        data = _read_all(stream)
        result = stream.finish()

    assert data == export_bytes()
    assert SQLServerEngine().artifact_extension({}) == "bacpac"
    assert result.metadata["database_version"] == VERSION_LINE
    assert result.metadata["tool_version"] == f"sqlpackage {TOOL_VERSION}"
    assert result.metadata["tables_backed_up"] == 3
    assert result.metadata["rows_approximate"] == 1200 + 3400 + 9000
    assert result.metadata["bacpac_bytes"] == EXPORT_BYTES
    assert "Successfully exported database" in result.metadata["engine_output"]
    assert "not transactionally consistent" in result.metadata["consistency"]
    assert list(work_dir.iterdir()) == []
    (export,) = standin.actions()
    params = export["params"]
    assert params["Action"] == "Export"
    assert params["SourceServerName"] == "tcp:127.0.0.1,14330"
    assert params["SourceDatabaseName"] == "erp"
    assert params["SourceUser"] == "dg_backup"
    assert params["SourceEncryptConnection"] == "False"
    assert Path(params["TargetFile"]).parent == work_dir
    assert Path(params["p:TempDirectoryForTableData"]).parent == work_dir


def test_the_password_reaches_sqlpackage_only_in_a_0600_response_file(standin, server, work_dir):
    with SQLServerEngine().backup(CONFIG, {}, work_dir) as stream:
        assert stream.read(10)
        # The export ended: its response file is gone although the stream is still open.
        assert not any(path.name.startswith("sqlpackage.rsp") for path in work_dir.iterdir())
        _read_all(stream)
        stream.finish()

    runs = standin.runs()
    assert runs[0]["argv"][1:] == ["/Version"]
    for run in runs:
        assert all(PASSWORD not in argument for argument in run["argv"])
        assert all(PASSWORD not in value for value in run["env"].values())
        assert set(run["env"]) <= {
            "PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "DOTNET_CLI_TELEMETRY_OPTOUT",
            "DOTNET_NOLOGO", "DOTNET_SKIP_FIRST_TIME_EXPERIENCE",
        }  # fmt: skip
    (export,) = standin.actions()
    rsp = export["rsp"]
    assert export["argv"][1:] == [f"@{rsp['path']}"]
    assert Path(rsp["path"]).parent == work_dir
    assert rsp["mode"] == 0o600
    assert f'"/SourcePassword:{PASSWORD}"\n' in rsp["text"]
    assert export["params"]["SourcePassword"] == PASSWORD
    assert not Path(rsp["path"]).exists()


def test_a_failing_export_is_a_readable_error_without_the_password_or_a_file_left(
    standin, server, work_dir
):
    standin.control(fail=True, echo_password=True)

    with (
        pytest.raises(EngineError) as raised,
        SQLServerEngine().backup(CONFIG, {}, work_dir) as stream,
    ):
        stream.read(1024)

    message = str(raised.value)
    assert not isinstance(raised.value, TransientEngineError)
    assert message.startswith("sqlpackage export exited with status 1: ")
    assert "the stand-in was told to fail" in message
    assert PASSWORD not in message
    assert MASK in message
    assert Path(standin.actions()[0]["params"]["TargetFile"]).parent == work_dir
    assert list(work_dir.iterdir()) == []


def test_an_export_cut_off_by_a_timeout_is_transient(standin, server, work_dir):
    standin.control(
        fail=True, message="*** Connection Timeout Expired. The timeout period elapsed."
    )

    with (
        pytest.raises(TransientEngineError),
        SQLServerEngine().backup(CONFIG, {}, work_dir) as stream,
    ):
        stream.read(1024)

    assert list(work_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("ssl_enabled", "trust", "expected"),
    [
        (False, False, ("False", "False")),
        (True, False, ("True", "False")),
        (True, True, ("True", "True")),
    ],
)
def test_tls_settings_reach_sqlpackage(standin, server, work_dir, ssl_enabled, trust, expected):
    config = SQLServerConnectionSchema.validate_data(
        dict(CONFIG, ssl_enabled=ssl_enabled, trust_server_certificate=trust)
    )

    with SQLServerEngine().backup(config, {}, work_dir) as stream:
        _read_all(stream)
        stream.finish()

    params = standin.actions()[0]["params"]
    assert (params["SourceEncryptConnection"], params["SourceTrustServerCertificate"]) == expected
    assert ("encryption" in server.connections[0]) is ssl_enabled


def test_the_certificate_is_checked_unless_the_datasource_says_otherwise():
    assert SQLServerConnectionSchema.validate_data(CONFIG)["trust_server_certificate"] is False


def test_leaving_the_context_mid_export_stops_sqlpackage_and_removes_the_partial_bacpac(
    standin, server, work_dir
):
    standin.control(stall=60)
    started = time.monotonic()

    with SQLServerEngine().backup(CONFIG, {}, work_dir) as stream:
        assert isinstance(stream, BacpacStream)
        pid = stream.pid
        deadline = time.monotonic() + 15
        while not any(p.suffix == ".bacpac" and p.stat().st_size for p in work_dir.iterdir()):
            assert time.monotonic() < deadline, "the stand-in never started its export"
            time.sleep(0.05)
        assert _process_alive(pid)

    assert not _process_alive(pid)
    assert time.monotonic() - started < 30
    assert list(work_dir.iterdir()) == []


def test_a_closed_port_before_the_export_is_a_transient_error(standin, work_dir):
    closed = dict(CONFIG, port=_closed_port())

    with (
        pytest.raises(TransientEngineError) as raised,
        SQLServerEngine().backup(closed, {}, work_dir),
    ):
        pass

    assert "Connection refused" in str(raised.value)
    assert standin.actions() == []
    assert list(work_dir.iterdir()) == []


def test_a_missing_sqlpackage_names_its_package(no_sqlpackage, work_dir):
    with (
        pytest.raises(EngineError) as raised,
        SQLServerEngine().backup(CONFIG, {}, work_dir),
    ):
        pass

    assert PACKAGE in str(raised.value)
    assert [tool.name for tool in SQLServerEngine().missing_tools()] == ["sqlpackage"]
    result = check_connection("sqlserver", CONFIG)
    assert result.status == "error"
    assert PACKAGE in result.error_message


@pytest.mark.parametrize("value", ['pass"word', "pass\nword", "pass\rword"])
def test_a_password_the_response_file_cannot_carry_is_refused_without_being_shown(value):
    with pytest.raises(EngineError) as raised:
        response_file([("SourcePassword", value)])
    assert value not in str(raised.value)
    assert "The password" in str(raised.value)


def test_response_file_arguments_with_spaces_are_quoted_one_per_line():
    text = response_file([("Action", "Export"), ("SourceUser", "a b"), ("p", "X=1")])
    assert text == '/Action:Export\n"/SourceUser:a b"\n/p:X=1\n'


# --- Health check ---------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def test_a_closed_port_is_unreachable_through_the_real_driver():
    result = SQLServerEngine().check_health(dict(CONFIG, port=_closed_port()), timeout=5)

    assert result.status == "unreachable"
    assert "Connection refused" in result.error_message
    assert PASSWORD not in result.error_message


def test_a_listener_that_never_answers_is_a_timeout_through_the_real_driver(silent_listener):
    started = time.monotonic()

    result = SQLServerEngine().check_health(dict(CONFIG, port=silent_listener), timeout=2)

    assert result.status == "timeout"
    assert "timed out" in result.error_message
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("host", ["no-such-host.invalid", "a..b"])
def test_an_unknown_or_malformed_host_is_unreachable(host):
    result = SQLServerEngine().check_health(dict(CONFIG, host=host), timeout=5)

    assert result.status == "unreachable"
    assert f"Cannot resolve {host}" in result.error_message


def test_a_driver_that_breaks_unexpectedly_is_an_error_result_not_an_exception(monkeypatch):
    def broken(**arguments: Any) -> Any:
        raise RuntimeError(f"driver bug with {arguments['password']}")

    monkeypatch.setattr(pymssql, "connect", broken)

    result = SQLServerEngine().check_health(CONFIG, timeout=5)

    assert result.status == "error"
    assert "RuntimeError: driver bug" in result.error_message
    assert PASSWORD not in result.error_message


def test_a_server_that_answers_reports_its_version_and_the_database_state(server):
    result = SQLServerEngine().check_health(CONFIG, timeout=5)

    assert result.status == "ok", result.error_message
    assert result.metadata == {"version": VERSION_LINE, "database_state": "ONLINE"}
    assert result.warning == ""
    (arguments,) = server.connections
    assert arguments["server"] == "127.0.0.1"
    assert arguments["port"] == "14330"
    assert arguments["database"] == "master"
    assert arguments["tds_version"] == "7.4"
    assert arguments["login_timeout"] == 5
    assert arguments["timeout"] == 5
    assert ("master", "SELECT state_desc FROM sys.databases WHERE name = %s", ("erp",)) in (
        server.statements
    )


def test_an_offline_database_fails_the_check_naming_its_state(server):
    server.databases["erp"].state = "OFFLINE"

    result = SQLServerEngine().check_health(CONFIG, timeout=5)

    assert result.status == "error"
    assert "database 'erp' is OFFLINE" in result.error_message
    assert result.metadata["database_state"] == "OFFLINE"


def test_a_restoring_database_answers_with_a_warning(server):
    server.databases["erp"].state = "RESTORING"

    result = SQLServerEngine().check_health(CONFIG, timeout=5)

    assert result.status == "ok"
    assert "RESTORING" in result.warning


def test_a_missing_database_is_reported_missing(server):
    result = SQLServerEngine().check_health(dict(CONFIG, database="nope"), timeout=5)

    assert result.status == "error"
    assert "database 'nope' does not exist" in result.error_message


def test_a_failed_login_is_auth_failed_without_the_password(server):
    server.password = "another one"

    result = SQLServerEngine().check_health(CONFIG, timeout=5)

    assert result.status == "auth_failed"
    assert "Login failed for user 'dg_backup'" in result.error_message
    assert PASSWORD not in result.error_message


def test_the_connection_test_passes_with_the_tool_and_a_server(standin, server):
    result = check_connection("sqlserver", CONFIG)

    assert result.status == "ok", result.error_message


# --- Through the pipeline -------------------------------------------------------------------


def _temp_root() -> Path:
    return Path(system_settings.get("system.temp_directory"))


@pytest.mark.django_db
def test_a_backup_restores_byte_for_byte_through_the_pipeline(standin, server, backup_of):
    backup = backup_of("sqlserver", CONFIG, max_file_size_mb=1)

    assert backup.status == BackupExecution.Status.COMPLETED, backup.error_message
    assert backup.chunks.count() >= 3
    assert backup.size_bytes == EXPORT_BYTES
    assert backup.metadata["tables_backed_up"] == 3
    assert backup.metadata["rows_approximate"] == 13_600
    assert backup.metadata["database_version"] == VERSION_LINE
    assert PASSWORD not in str(backup.metadata)
    assert not (_temp_root() / f"run-{backup.id}").exists()

    target = DatasourceFactory.create(
        type="sqlserver", connection_config=dict(CONFIG, database="erp_restored")
    )
    restore = restore_execution(backup, target_datasource=target, confirm=True)
    assert perform_restore(restore), restore.error_message

    restore.refresh_from_db()
    assert restore.status == BackupExecution.Status.COMPLETED
    assert standin.import_copy.read_bytes() == export_bytes()
    imported = standin.actions()[-1]
    assert imported["params"]["Action"] == "Import"
    assert imported["params"]["TargetDatabaseName"] == "erp_restored"
    assert imported["params"]["TargetServerName"] == "tcp:127.0.0.1,14330"
    assert imported["rsp"]["mode"] == 0o600
    assert not Path(imported["params"]["SourceFile"]).exists()
    assert restore.metadata["database_created"] is True
    assert restore.metadata["bacpac_bytes"] == EXPORT_BYTES
    assert not (_temp_root() / f"restore-{restore.id}").exists()


@pytest.mark.django_db
def test_a_restore_into_a_database_holding_objects_is_refused_before_sqlpackage_runs(
    standin, server, backup_of
):
    backup = backup_of("sqlserver", CONFIG)
    restore = restore_execution(backup, confirm=True)

    assert not perform_restore(restore)

    restore.refresh_from_db()
    assert restore.status == BackupExecution.Status.FAILED
    assert "already holds 3 objects" in str(restore.error_message)
    assert [run["params"]["Action"] for run in standin.actions()] == ["Export"]


@pytest.mark.django_db
def test_a_failing_sqlpackage_fails_the_execution_with_its_message(standin, server, make_job):
    standin.control(fail=True, echo_password=True)

    execution = run_failing_backup(make_job("sqlserver", CONFIG))

    message = str(execution.error_message)
    assert "sqlpackage export exited with status 1" in message
    assert "the stand-in was told to fail" in message
    assert "Traceback" not in message
    assert PASSWORD not in message
    assert execution.chunks.count() == 0


@pytest.mark.django_db
def test_a_missing_sqlpackage_fails_the_backup_naming_the_package(no_sqlpackage, make_job):
    execution = run_failing_backup(make_job("sqlserver", CONFIG))

    assert PACKAGE in str(execution.error_message)
    assert "Traceback" not in str(execution.error_message)


@pytest.mark.django_db
def test_a_verification_imports_into_a_scratch_database_checks_it_and_drops_it(
    standin, server, backup_of
):
    assertion = "SELECT COUNT(*) FROM dbo.customers"
    server.assertions[assertion] = [(1200,)]
    backup = backup_of("sqlserver", CONFIG, verification_assertions=[assertion])

    verification = verify_backup(backup)

    assert verification["status"] == "passed", verification
    checks = {check["name"]: check for check in verification["checks"]}
    assert checks["table_count"]["ok"]
    assert checks["row_count"]["ok"]
    assert checks["assertion_1"]["ok"]
    assert verification["counts"] == {
        "dbo.customers": 1200,
        "dbo.orders": 3400,
        "sales.order lines": 9000,
    }
    scratch = standin.actions()[-1]["params"]["TargetDatabaseName"]
    assert scratch.startswith("dgverify_")
    assert scratch not in server.databases
    assert ("master", f"DROP DATABASE [{scratch}]", None) in server.statements
    assert server.rollbacks >= 2


def test_the_stand_in_refuses_a_password_on_its_command_line(standin, tmp_path):
    import subprocess

    completed = subprocess.run(
        [str(standin.path), "/Action:Export", f"/SourcePassword:{PASSWORD}"],
        capture_output=True,
        check=False,
    )
    assert completed.returncode == 2
    assert stat.S_IMODE(standin.path.stat().st_mode) & stat.S_IXUSR


# --- Restoring by hand ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_manual_restore_joins_the_chunks_into_the_bacpac_sqlpackage_imports(
    standin, server, backup_of, tmp_path
):

    from tests.support.jobs import artifact_dir

    backup = backup_of("sqlserver", CONFIG, max_file_size_mb=1)
    directory = artifact_dir(backup)
    assert sorted(p.name for p in directory.iterdir())[:2] == [
        "SHA256SUMS",
        "backup.bacpac.zst.part001",
    ]
    work = tmp_path / "manual"
    work.mkdir()

    run_recipe(
        "sqlserver",
        directory,
        stdin=PASSWORD + "\n",
        PATH=f"{standin.directory}:/usr/bin:/bin",
        DECOMPRESS="zstd -dc",
        WORK_DIR=str(work),
        TARGET_HOST="127.0.0.1",
        TARGET_PORT="14330",
        TARGET_DB="erp_by_hand",
        TARGET_USER="dg_backup",
    )
    assert standin.import_copy.read_bytes() == export_bytes()
    imported = standin.actions()[-1]
    assert imported["params"]["TargetDatabaseName"] == "erp_by_hand"
    assert imported["params"]["TargetPassword"] == PASSWORD
    assert imported["rsp"]["mode"] == 0o600
    assert list(work.iterdir()) == []
