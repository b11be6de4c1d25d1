"""SQLite backups are consistent online copies, checked before they are streamed.

Real database files in ``tmp_path``; no Django database is needed.
"""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from datasources.engines import sqlite as sqlite_engine
from datasources.engines.base import EngineError
from datasources.engines.sqlite import SQLiteEngine

EVENT_ROWS = 50_000
PAYLOAD = "x" * 100


def _make_database(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, payload TEXT)")
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
        conn.execute('CREATE TABLE "odd ""name""" (value REAL)')
        conn.execute("CREATE INDEX events_kind ON events (kind)")
        conn.executemany(
            "INSERT INTO events (kind, payload) VALUES (?, ?)",
            ((f"kind-{i % 17}", f"{PAYLOAD}{i}") for i in range(EVENT_ROWS)),
        )
        conn.executemany("INSERT INTO users (name) VALUES (?)", ((f"u{i}",) for i in range(300)))
        conn.executemany('INSERT INTO "odd ""name""" VALUES (?)', ((i / 3,) for i in range(30)))
    conn.close()


def _read_all(stream, size: int = 64 * 1024) -> bytes:
    chunks = []
    while chunk := stream.read(size):
        chunks.append(chunk)
    return b"".join(chunks)


def _count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "app.db"
    _make_database(path)
    return path


def test_a_backup_taken_while_rows_are_inserted_is_a_consistent_database(database, tmp_path):
    temp_dir = tmp_path / "tmp"
    before = _count(database, "events")
    stop = threading.Event()
    committed = threading.Event()

    def writer() -> None:
        conn = sqlite3.connect(database, timeout=30)
        try:
            while not stop.is_set():
                with conn:
                    conn.executemany(
                        "INSERT INTO events (kind, payload) VALUES (?, ?)",
                        (("live", PAYLOAD) for _ in range(50)),
                    )
                committed.set()
        finally:
            conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert committed.wait(10)
        with SQLiteEngine().backup({"file_path": str(database)}, {}, temp_dir) as stream:
            copies = list(temp_dir.iterdir())
            assert len(copies) == 1
            assert stat.S_IMODE(copies[0].stat().st_mode) == 0o600
            data = _read_all(stream)
            result = stream.finish()
    finally:
        stop.set()
        thread.join()
    after = _count(database, "events")

    assert list(temp_dir.iterdir()) == []
    assert data.startswith(b"SQLite format 3\x00")
    restored = tmp_path / "restored.db"
    restored.write_bytes(data)
    conn = sqlite3.connect(restored)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        copied = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        assert before < after
        assert before <= copied <= after
        # Rows are inserted in committed batches of 50: a consistent copy holds whole batches.
        assert (copied - before) % 50 == 0
        source = sqlite3.connect(database)
        try:
            for table in ("users", '"odd ""name"""'):
                query = f"SELECT * FROM {table} ORDER BY rowid"
                assert conn.execute(query).fetchall() == source.execute(query).fetchall()
        finally:
            source.close()
        users = conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]
        odd = conn.execute('SELECT COUNT(*) FROM "odd ""name"""').fetchone()[0]
    finally:
        conn.close()

    assert SQLiteEngine().artifact_extension({}) == "db"
    assert result.metadata["database_version"] == f"SQLite {sqlite3.sqlite_version}"
    assert result.metadata["tables_backed_up"] == 3
    assert result.metadata["rows_approximate"] == copied + users + odd
    assert result.metadata["engine_output"] == ""


def test_the_streamed_copy_is_a_single_self_contained_file(database, tmp_path):
    with SQLiteEngine().backup({"file_path": str(database)}, {}, tmp_path / "tmp") as stream:
        data = _read_all(stream, 1000)
        stream.finish()
    restored = tmp_path / "alone" / "restored.db"
    restored.parent.mkdir()
    restored.write_bytes(data)
    conn = sqlite3.connect(f"{restored.as_uri()}?mode=ro", uri=True)
    try:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == EVENT_ROWS
    finally:
        conn.close()
    assert sorted(p.name for p in restored.parent.iterdir()) == ["restored.db"]


def test_a_missing_database_file_is_an_engine_error(tmp_path):
    temp_dir = tmp_path / "tmp"
    with (
        pytest.raises(EngineError, match="does not exist"),
        SQLiteEngine().backup({"file_path": str(tmp_path / "nope.db")}, {}, temp_dir),
    ):
        pass
    assert list(temp_dir.iterdir()) == []


def test_a_file_that_is_not_a_database_is_an_engine_error(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an sqlite database at all\n" * 200)
    temp_dir = tmp_path / "tmp"
    with (
        pytest.raises(EngineError, match="SQLite database"),
        SQLiteEngine().backup({"file_path": str(garbage)}, {}, temp_dir),
    ):
        pass
    assert list(temp_dir.iterdir()) == []


def test_a_directory_instead_of_a_file_is_an_engine_error(tmp_path):
    with (
        pytest.raises(EngineError, match="not a regular file"),
        SQLiteEngine().backup({"file_path": str(tmp_path)}, {}, tmp_path / "tmp"),
    ):
        pass


def test_aborting_removes_the_temporary_copy(database, tmp_path):
    temp_dir = tmp_path / "tmp"
    with SQLiteEngine().backup({"file_path": str(database)}, {}, temp_dir) as stream:
        assert stream.read(100)
        stream.abort()
        stream.abort()
        assert list(temp_dir.iterdir()) != []
        with pytest.raises(EngineError):
            stream.finish()
    assert list(temp_dir.iterdir()) == []


def _fail_downstream(database: Path, temp_dir: Path) -> None:
    with SQLiteEngine().backup({"file_path": str(database)}, {}, temp_dir) as stream:
        stream.read(10)
        raise RuntimeError("downstream failure")


def test_leaving_the_context_on_an_error_removes_the_temporary_copy(database, tmp_path):
    temp_dir = tmp_path / "tmp"
    with pytest.raises(RuntimeError, match="downstream failure"):
        _fail_downstream(database, temp_dir)
    assert list(temp_dir.iterdir()) == []


def test_a_copy_that_keeps_restarting_is_redone_in_one_step(database, tmp_path, monkeypatch):
    # With no step budget to spare the step-wise copy gives up and falls back to pages=-1.
    monkeypatch.setattr(sqlite_engine, "BACKUP_PAGES_PER_STEP", 10)
    monkeypatch.setattr(sqlite_engine, "BACKUP_EXTRA_STEPS", 0)
    with SQLiteEngine().backup({"file_path": str(database)}, {}, tmp_path / "tmp") as stream:
        data = _read_all(stream)
        result = stream.finish()
    restored = tmp_path / "restored.db"
    restored.write_bytes(data)
    assert _count(restored, "events") == EVENT_ROWS
    assert result.metadata["rows_approximate"] == EVENT_ROWS + 300 + 30
