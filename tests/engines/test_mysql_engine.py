"""MySQL / MariaDB backups run the real mariadb-dump against the real server, as a user with
a password full of awkward characters, and restore with the mysql client.

Needs MariaDB on 127.0.0.1:3306 (root, empty password); no Django database.
"""

# The SQL here is built from names the tests generate themselves (the mysql client has no
# bind parameters).

from __future__ import annotations

import secrets
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from datasources.engines.base import BackupResult, EngineError, TransientEngineError
from datasources.engines.mysql import MySQLEngine, option_file, ssl_flags
from datasources.engines.process import ProcessStream

HOST = "127.0.0.1"
PORT = 3306
EVENT_ROWS = 10_000
PASSWORD = "p@ss \"w#rd\\ :x'" + secrets.token_hex(6)
ROOT = ["mysql", "-h", HOST, "-P", str(PORT), "-uroot", "--protocol=TCP"]


def _sql(sql: str, database: str | None = None, stdin: bytes | None = None) -> str:
    argv = [*ROOT, "-N", "-B"]
    if database:
        argv.append(database)
    if sql:
        argv += ["-e", sql]
    return subprocess.run(argv, input=stdin, check=True, capture_output=True).stdout.decode()


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _create_database() -> str:
    name = "dgtest_my_" + secrets.token_hex(5)
    _sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    return name


@pytest.fixture(scope="module")
def source_db():
    name = _create_database()
    user = "dgtest_my_" + secrets.token_hex(4)
    _sql(
        f"""
        CREATE TABLE customers (
            id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL,
            touched INT DEFAULT 0, photo BLOB
        );
        CREATE TABLE events (id BIGINT AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(20),
            payload TEXT);
        CREATE TABLE logs_2024 (id INT PRIMARY KEY, message VARCHAR(100));
        INSERT INTO customers (name, photo)
            SELECT CONCAT('customer ', seq, ' é'), UNHEX(MD5(seq)) FROM seq_1_to_50;
        INSERT INTO events (kind, payload)
            SELECT CONCAT('kind', seq % 7), REPEAT(MD5(seq), 4) FROM seq_1_to_{EVENT_ROWS};
        INSERT INTO logs_2024 SELECT seq, CONCAT('line ', seq) FROM seq_1_to_20;
        CREATE TRIGGER customers_touch BEFORE UPDATE ON customers
            FOR EACH ROW SET NEW.touched = OLD.touched + 1;
        CREATE FUNCTION double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
        ANALYZE TABLE customers, events, logs_2024;
        """,
        database=name,
    )
    for host in ("127.0.0.1", "%"):
        _sql(
            f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY {_quote(PASSWORD)};"
            f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'{host}';"
            f"GRANT SELECT ON mysql.proc TO '{user}'@'{host}';"
        )
    yield {"name": name, "user": user}
    _sql(f"DROP DATABASE IF EXISTS `{name}`")
    for host in ("127.0.0.1", "%"):
        _sql(f"DROP USER IF EXISTS '{user}'@'{host}'")


@pytest.fixture
def fresh_db():
    name = _create_database()
    yield name
    _sql(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def _config(source: dict[str, str], **overrides: Any) -> dict[str, Any]:
    config = {
        "host": HOST,
        "port": PORT,
        "database": source["name"],
        "username": source["user"],
        "password": PASSWORD,
        "ssl_enabled": False,
    }
    config.update(overrides)
    return config


def _backup_to_file(
    config: dict[str, Any], options: dict[str, Any], temp_dir: Path, out: Path
) -> BackupResult:
    with MySQLEngine().backup(config, options, temp_dir) as stream, out.open("wb") as handle:
        while chunk := stream.read(65536):
            handle.write(chunk)
        return stream.finish()


def _fingerprints(database: str) -> dict[str, tuple[int, str]]:
    tables = _sql(
        "SELECT TABLE_NAME FROM information_schema.TABLES "
        f"WHERE TABLE_SCHEMA = '{database}' ORDER BY TABLE_NAME"
    ).split()
    result = {}
    for table in tables:
        count = int(_sql(f"SELECT COUNT(*) FROM `{table}`", database))
        checksum = _sql(f"CHECKSUM TABLE `{table}`", database).split("\t")[1].strip()
        result[table] = (count, checksum)
    return result


def _restore(dump: Path, database: str) -> None:
    _sql("", database, stdin=dump.read_bytes())


def test_a_dump_restores_every_row_the_trigger_and_the_routine(
    source_db, fresh_db, work_dir, tmp_path
):
    dump = tmp_path / "backup.sql"

    result = _backup_to_file(_config(source_db), {}, work_dir, dump)

    assert MySQLEngine().artifact_extension({}) == "sql"
    assert "MariaDB" in result.metadata["database_version"]
    assert "Ver" in result.metadata["tool_version"]
    assert result.metadata["tables_backed_up"] == 3
    assert result.metadata["rows_approximate"] > 0
    assert isinstance(result.metadata["engine_output"], str)
    _restore(dump, fresh_db)
    assert _fingerprints(fresh_db) == _fingerprints(source_db["name"])
    assert (
        _sql(
            f"SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '{fresh_db}'"
        ).strip()
        == "1"
    )
    assert _sql("SELECT double_it(21)", fresh_db).strip() == "42"
    assert list(work_dir.iterdir()) == []


def test_an_exclude_pattern_leaves_the_logs_table_out(source_db, fresh_db, work_dir, tmp_path):
    dump = tmp_path / "backup.sql"

    result = _backup_to_file(_config(source_db), {"exclude_tables": ["logs_*"]}, work_dir, dump)

    assert result.metadata["tables_backed_up"] == 2
    _restore(dump, fresh_db)
    source = _fingerprints(source_db["name"])
    assert _fingerprints(fresh_db) == {name: source[name] for name in ("customers", "events")}


def test_include_patterns_limit_the_dump_to_matching_tables(
    source_db, fresh_db, work_dir, tmp_path
):
    dump = tmp_path / "backup.sql"

    result = _backup_to_file(
        _config(source_db), {"include_tables": ["ev*", "logs_2024"]}, work_dir, dump
    )

    assert result.metadata["tables_backed_up"] == 2
    _restore(dump, fresh_db)
    assert set(_fingerprints(fresh_db)) == {"events", "logs_2024"}


def test_an_include_pattern_matching_nothing_fails_naming_it(source_db, work_dir):
    with (
        pytest.raises(EngineError, match="nothing_like_this_\\*"),
        MySQLEngine().backup(
            _config(source_db), {"include_tables": ["nothing_like_this_*"]}, work_dir
        ),
    ):
        pass
    assert list(work_dir.iterdir()) == []


def test_a_closed_port_is_a_transient_error(source_db, work_dir):
    with (
        pytest.raises(TransientEngineError),
        MySQLEngine().backup(_config(source_db, port=1), {}, work_dir),
    ):
        pass
    assert list(work_dir.iterdir()) == []


def test_a_wrong_password_is_a_permanent_error_without_the_password(source_db, work_dir):
    with (
        pytest.raises(EngineError) as raised,
        MySQLEngine().backup(_config(source_db, password="not-the-password-123"), {}, work_dir),
    ):
        pass
    assert not isinstance(raised.value, TransientEngineError)
    assert "Access denied" in str(raised.value)
    assert "not-the-password-123" not in str(raised.value)


def _process_group(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def test_the_password_is_in_neither_argv_nor_environ_and_its_file_is_removed(source_db, work_dir):
    config = _config(source_db)
    secret = PASSWORD.encode()

    with MySQLEngine().backup(config, {}, work_dir) as stream:
        assert stream.read(100)
        assert isinstance(stream, ProcessStream)
        pid = stream.pid
        members = _process_group(pid)
        assert pid in members
        for member in members:
            cmdline = Path(f"/proc/{member}/cmdline").read_bytes()
            environ = Path(f"/proc/{member}/environ").read_bytes()
            assert b"dump" in cmdline  # alive, not a zombie
            assert cmdline.split(b"\0")[1].startswith(b"--defaults-extra-file=")
            assert secret not in cmdline
            assert secret not in environ
        option_files = list(work_dir.iterdir())
        assert len(option_files) == 1
        assert stat.S_IMODE(option_files[0].stat().st_mode) == 0o600
        assert option_files[0].read_text() == option_file(config)
        while stream.read(65536):
            pass
        stream.finish()

    assert list(work_dir.iterdir()) == []


def test_leaving_the_context_without_finishing_kills_the_dump(source_db, work_dir):
    with MySQLEngine().backup(_config(source_db), {}, work_dir) as stream:
        stream.read(10)
        assert isinstance(stream, ProcessStream)
        pid = stream.pid
    assert _process_group(pid) == []
    assert list(work_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("ssl_enabled", "tool", "flags"),
    [
        (False, "mariadb-dump from 11.4.2-MariaDB", []),
        (True, "mariadb-dump from 11.4.2-MariaDB, client 10.6 for debian-linux-gnu", ["--ssl"]),
        (True, "mariadb", ["--ssl"]),
        (
            True,
            "mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server)",
            ["--ssl-mode=REQUIRED"],
        ),
        (True, "mysql", ["--ssl-mode=REQUIRED"]),
    ],
)
def test_tls_options_follow_the_client_family(ssl_enabled, tool, flags):
    assert ssl_flags({"ssl_enabled": ssl_enabled}, tool) == flags
