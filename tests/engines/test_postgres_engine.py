"""PostgreSQL backups run the real pg_dump against the real server and restore with
pg_restore; the subprocess seam is exercised with real processes too.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth); no Django database.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from datasources.engines.base import BackupResult, EngineError, TransientEngineError
from datasources.engines.postgres import (
    DirectoryTarStream,
    PgDumpClient,
    PostgresEngine,
    choose_pg_dump,
    installed_pg_dumps,
    pgpass_line,
)
from datasources.engines.process import (
    ProcessStream,
    ToolProcess,
    run_tool,
    secret_file,
    tool_env,
)

HOST = "127.0.0.1"
PORT = 5432
EVENT_ROWS = 10_000
PASSWORD = "S3cr:et\\pw-" + secrets.token_hex(6)


def _execute(statement: str, dbname: str = "postgres") -> None:
    with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=dbname) as conn:
        conn.autocommit = True
        conn.execute(statement.encode())


def _fetch(query: str | sql.Composed, dbname: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=dbname) as conn:
        return conn.execute(query).fetchall()


def _create_database(prefix: str = "dgtest_pg_") -> str:
    name = prefix + secrets.token_hex(5)
    _execute(f'CREATE DATABASE "{name}"')
    return name


def _drop_database(name: str) -> None:
    _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def source_db():
    name = _create_database()
    role = "dgtest_pg_role_" + secrets.token_hex(4)
    _execute(
        """
        CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, touched int DEFAULT 0);
        CREATE TABLE events (id bigserial PRIMARY KEY, kind text, payload text);
        CREATE TABLE logs_2024 (id int PRIMARY KEY, message text);
        INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 50) g;
        INSERT INTO events (kind, payload)
            SELECT 'kind' || (g % 7), repeat(md5(g::text), 4) FROM generate_series(1, 10000) g;
        INSERT INTO logs_2024 SELECT g, 'line ' || g FROM generate_series(1, 20) g;
        CREATE FUNCTION bump_touched() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.touched := NEW.touched + 1; RETURN NEW; END $$;
        CREATE TRIGGER customers_touch BEFORE UPDATE ON customers
            FOR EACH ROW EXECUTE FUNCTION bump_touched();
        ANALYZE;
        """,
        dbname=name,
    )
    _execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{PASSWORD.replace(chr(39), chr(39) * 2)}'")
    _execute(f'GRANT pg_read_all_data TO "{role}"')
    yield {"name": name, "role": role}
    _drop_database(name)
    _execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture
def fresh_db():
    name = _create_database()
    yield name
    _drop_database(name)


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def _config(database: str, **overrides: Any) -> dict[str, Any]:
    config = {
        "host": HOST,
        "port": PORT,
        "database": database,
        "username": "postgres",
        "password": "",
        "ssl_enabled": False,
    }
    config.update(overrides)
    return config


def _backup_to_file(
    config: dict[str, Any], options: dict[str, Any], temp_dir: Path, out: Path
) -> BackupResult:
    with PostgresEngine().backup(config, options, temp_dir) as stream, out.open("wb") as handle:
        while chunk := stream.read(65536):
            handle.write(chunk)
        return stream.finish()


def _table_fingerprints(dbname: str) -> dict[str, tuple[int, str]]:
    tables = _fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", dbname
    )
    result = {}
    for (table,) in tables:
        query = sql.SQL(
            "SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {} t"
        ).format(sql.Identifier(table))
        count, digest = _fetch(query, dbname)[0]
        result[table] = (count, digest)
    return result


def _restore(dump: Path, dbname: str, *extra: str) -> None:
    subprocess.run(
        ["pg_restore", "--exit-on-error", "--no-owner", "-h", HOST, "-p", str(PORT), "-U",
         "postgres", "-d", dbname, *extra, str(dump)],
        check=True,
        capture_output=True,
    )  # fmt: skip


def test_a_custom_dump_restores_every_row_and_the_trigger(source_db, fresh_db, work_dir, tmp_path):
    dump = tmp_path / "backup.dump"

    result = _backup_to_file(_config(source_db["name"]), {}, work_dir, dump)

    assert PostgresEngine().artifact_extension({}) == "dump"
    assert result.metadata["database_version"].startswith("PostgreSQL 15.")
    assert result.metadata["tool_version"].startswith("pg_dump (PostgreSQL) 15")
    assert result.metadata["tables_backed_up"] == 3
    assert result.metadata["rows_approximate"] == 50 + EVENT_ROWS + 20
    assert isinstance(result.metadata["engine_output"], str)
    assert dump.read_bytes()[:5] == b"PGDMP"
    _restore(dump, fresh_db)
    assert _table_fingerprints(fresh_db) == _table_fingerprints(source_db["name"])
    assert _fetch("SELECT count(*) FROM pg_trigger WHERE tgname = 'customers_touch'", fresh_db) == [
        (1,)
    ]
    assert list(work_dir.iterdir()) == []


def test_an_exclude_pattern_leaves_the_logs_table_out(source_db, fresh_db, work_dir, tmp_path):
    dump = tmp_path / "backup.dump"

    result = _backup_to_file(
        _config(source_db["name"]), {"exclude_tables": ["logs_*"]}, work_dir, dump
    )

    assert result.metadata["tables_backed_up"] == 2
    _restore(dump, fresh_db)
    restored = _table_fingerprints(fresh_db)
    assert set(restored) == {"customers", "events"}
    source = _table_fingerprints(source_db["name"])
    assert restored == {name: source[name] for name in ("customers", "events")}


def test_an_include_pattern_limits_the_dump_to_matching_tables(
    source_db, fresh_db, work_dir, tmp_path
):
    dump = tmp_path / "backup.dump"

    result = _backup_to_file(
        _config(source_db["name"]), {"include_tables": ["ev*"]}, work_dir, dump
    )

    # pg_dump --table leaves functions out, so the table with the trigger is not the example.
    assert result.metadata["tables_backed_up"] == 1
    assert result.metadata["rows_approximate"] == EVENT_ROWS
    _restore(dump, fresh_db)
    restored = _table_fingerprints(fresh_db)
    assert restored == {"events": _table_fingerprints(source_db["name"])["events"]}


def test_an_include_pattern_matching_nothing_fails_naming_it(source_db, work_dir):
    with (
        pytest.raises(EngineError, match="nothing_like_this_\\*"),
        PostgresEngine().backup(
            _config(source_db["name"]), {"include_tables": ["nothing_like_this_*"]}, work_dir
        ),
    ):
        pass
    assert list(work_dir.iterdir()) == []


def test_parallel_jobs_stream_a_directory_dump_as_a_tar_pg_restore_accepts(
    source_db, fresh_db, work_dir, tmp_path
):
    archive = tmp_path / "backup.tar"

    result = _backup_to_file(_config(source_db["name"]), {"parallel_jobs": 2}, work_dir, archive)

    assert PostgresEngine().artifact_extension({"parallel_jobs": 2}) == "tar"
    assert result.files_count is not None
    assert result.files_count >= 4  # toc.dat plus one file per table
    extracted = tmp_path / "extracted"
    with tarfile.open(archive) as tar:
        assert "toc.dat" in tar.getnames()
        tar.extractall(extracted, filter="data")
    _restore(extracted, fresh_db, "-j", "2")
    assert _table_fingerprints(fresh_db) == _table_fingerprints(source_db["name"])
    assert not (work_dir / "pgdump").exists()
    assert list(work_dir.iterdir()) == []


def test_a_closed_port_is_a_transient_error(work_dir):
    with (
        pytest.raises(TransientEngineError),
        PostgresEngine().backup(_config("postgres", port=1), {}, work_dir),
    ):
        pass


def _process_group(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the ")" closing the command name: state ppid pgrp ...
        fields = stat_line.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":  # zombies are already dead
            members.append(int(entry.name))
    return members


def test_the_password_is_in_neither_argv_nor_environ_and_its_file_is_removed(source_db, work_dir):
    config = _config(source_db["name"], username=source_db["role"], password=PASSWORD)
    secret = PASSWORD.encode()

    with PostgresEngine().backup(config, {}, work_dir) as stream:
        first = stream.read(1024)
        assert first.startswith(b"PGDMP")
        assert isinstance(stream, ProcessStream)
        pid = stream.pid
        members = _process_group(pid)
        assert pid in members
        for member in members:
            cmdline = Path(f"/proc/{member}/cmdline").read_bytes()
            environ = Path(f"/proc/{member}/environ").read_bytes()
            assert b"pg_dump" in cmdline  # the process is alive, not a zombie
            assert secret not in cmdline
            assert secret not in environ
            assert b"PGPASSFILE=" in environ
        passfiles = list(work_dir.iterdir())
        assert len(passfiles) == 1
        assert stat.S_IMODE(passfiles[0].stat().st_mode) == 0o600
        assert passfiles[0].read_text() == pgpass_line(config)
        while stream.read(65536):
            pass
        stream.finish()

    assert list(work_dir.iterdir()) == []


def test_leaving_the_context_without_finishing_kills_the_tool(source_db, work_dir):
    with PostgresEngine().backup(_config(source_db["name"]), {}, work_dir) as stream:
        stream.read(10)
        assert isinstance(stream, ProcessStream)
        pid = stream.pid
    assert (
        not Path(f"/proc/{pid}").exists()
        or b"pg_dump" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    )
    assert list(work_dir.iterdir()) == []


def test_the_pgpass_line_escapes_backslashes_and_colons():
    config = _config("db:1", username="u\\x", password="a:b\\c")
    assert pgpass_line(config) == "127.0.0.1:5432:db\\:1:u\\\\x:a\\:b\\\\c\n"


def test_leaving_a_parallel_backup_early_stops_it_and_removes_the_directory(source_db, work_dir):
    with PostgresEngine().backup(_config(source_db["name"]), {"parallel_jobs": 2}, work_dir) as s:
        assert isinstance(s, DirectoryTarStream)
        pid = s.pid
    assert _process_group(pid) == []
    assert list(work_dir.iterdir()) == []


def test_an_include_pattern_may_name_a_view(source_db, work_dir, tmp_path):
    _execute(
        "CREATE OR REPLACE VIEW customer_names AS SELECT name FROM customers", source_db["name"]
    )
    try:
        result = _backup_to_file(
            _config(source_db["name"]),
            {"include_tables": ["customer_names"]},
            work_dir,
            tmp_path / "view.dump",
        )
    finally:
        _execute("DROP VIEW customer_names", source_db["name"])
    assert result.metadata["tables_backed_up"] == 0


# --- choosing pg_dump ----------------------------------------------------------------------


def _fake_pg_dumps(root: Path, versions: dict[str, str]) -> Path:
    for directory, version in versions.items():
        binary = root / directory / "bin" / "pg_dump"
        binary.parent.mkdir(parents=True)
        binary.write_text(f'#!/bin/sh\necho "pg_dump (PostgreSQL) {version}"\n')
        binary.chmod(0o755)
    return root


def test_the_lowest_installed_pg_dump_not_older_than_the_server_is_chosen(tmp_path):
    clients = installed_pg_dumps(
        _fake_pg_dumps(tmp_path, {"13": "13.16", "16": "16.4"}), search_path=""
    )

    assert [client.major for client in clients] == [13, 16]
    chosen = choose_pg_dump(150004, "15.4", clients)
    assert chosen.path == tmp_path / "16" / "bin" / "pg_dump"
    assert chosen.version == "pg_dump (PostgreSQL) 16.4"
    assert choose_pg_dump(130002, "13.2", clients).major == 13


def test_a_server_newer_than_every_client_fails_naming_the_versions(tmp_path):
    clients = installed_pg_dumps(
        _fake_pg_dumps(tmp_path, {"13": "13.16", "16": "16.4"}), search_path=""
    )

    with pytest.raises(EngineError, match=r"PostgreSQL 17\.2.*13, 16"):
        choose_pg_dump(170002, "17.2", clients)


def test_no_client_at_all_says_none_are_installed():
    with pytest.raises(EngineError, match="installed client versions: none"):
        choose_pg_dump(150000, "15.0", [])


def test_the_real_pg_dump_on_this_worker_is_found():
    clients = installed_pg_dumps()
    assert any(isinstance(c, PgDumpClient) and c.major == 15 for c in clients)


# --- the subprocess seam ----------------------------------------------------------------------


def test_a_tool_exiting_non_zero_after_writing_fails_finish_with_its_stderr(tmp_path):
    process = ToolProcess(
        ["sh", "-c", "printf partial; echo 'pg_dump: error: disk on fire' >&2; exit 3"],
        tool_env(tmp_path),
    )
    stream = ProcessStream(process, lambda tail: BackupResult())

    assert stream.read(100) == b"partial"
    with pytest.raises(EngineError, match="sh exited with status 3: pg_dump: error: disk on fire"):
        stream.finish()


def test_connection_failures_in_stderr_are_transient(tmp_path):
    process = ToolProcess(
        ["sh", "-c", "echo 'could not connect to server: Connection refused' >&2; exit 1"],
        tool_env(tmp_path),
    )
    stream = ProcessStream(process, lambda tail: BackupResult())

    assert stream.read() == b""
    with pytest.raises(TransientEngineError):
        stream.finish()


def test_a_secret_that_leaks_into_stderr_is_masked(tmp_path):
    process = ToolProcess(
        ["sh", "-c", "echo 'oops hunter2 shown' >&2; exit 1"],
        tool_env(tmp_path),
        secrets=["hunter2"],
    )
    stream = ProcessStream(process, lambda tail: BackupResult())
    stream.read()

    with pytest.raises(EngineError) as raised:
        stream.finish()
    assert "hunter2" not in str(raised.value)
    assert "oops ******** shown" in str(raised.value)


def test_the_tool_environment_is_minimal(tmp_path):
    env = tool_env(tmp_path, {"PGSSLMODE": "prefer"})
    assert set(env) == {"PATH", "LANG", "LC_ALL", "HOME", "PGSSLMODE"}
    assert env["HOME"] == str(tmp_path)


def test_abort_stops_the_whole_process_group(tmp_path):
    process = ToolProcess(["sh", "-c", "sleep 60 & sleep 60; wait"], tool_env(tmp_path))
    stream = ProcessStream(process, lambda tail: BackupResult())
    members = []
    for _ in range(50):
        members = _process_group(stream.pid)
        if len(members) >= 3:
            break
        os.sched_yield()
        subprocess.run(["sleep", "0.05"], check=True)

    stream.abort()
    stream.abort()  # safe twice

    assert _process_group(stream.pid) == []
    with pytest.raises(EngineError, match="aborted"):
        stream.finish()


def test_a_secret_file_is_private_and_removed_afterwards(tmp_path):
    with secret_file(tmp_path, "pgpass", "content") as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text() == "content"
    assert not path.exists()


def test_a_short_tool_that_hangs_is_stopped_as_a_transient_timeout(tmp_path):
    with pytest.raises(TransientEngineError, match=r"sleep timed out after 0\.5s"):
        run_tool(["sleep", "30"], tool_env(tmp_path), timeout=0.5)


def test_a_missing_tool_is_named(tmp_path):
    with pytest.raises(EngineError, match="pg_dump_nope is not installed"):
        ToolProcess(["/nonexistent/pg_dump_nope"], tool_env(tmp_path))
