"""MongoDB backups, restores, health checks and verifications, without MongoDB.

No MongoDB server and no MongoDB client tools can run on this machine. So ``mongodump`` and
``mongorestore`` are stand-in executables put first on PATH (``tests.support.standin_tools``):
they record their argv, environment and ``--config`` file, refuse to run when the password is
in the argv or the environment, and emit or swallow known bytes. pymongo (the catalogue read
before a backup, the health check, the verification counts) talks to a MongoDB wire-protocol
stand-in on a loopback port (mockupdb), which answers the few commands used and checks the
password with a real SCRAM-SHA-256 exchange. What these tests prove is what DataGuardian does
with the tools and the driver (arguments, secrets, streaming, chunks, manifest, errors), not
that a real mongodump accepts those arguments.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import random
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bson
import pytest
from bson.int64 import Int64
from mockupdb import MockupDB

from datasources.connection import test_connection as connection_test
from datasources.engines.base import EngineError, TransientEngineError
from datasources.engines.mongodb import MongoDBEngine
from datasources.engines.mongodb import client as client_module
from datasources.engines.mongodb.backup import dump_argv, select_collections
from datasources.engines.mongodb.client import Collection, MongoConnection, yaml_string
from datasources.engines.mongodb.restore import Prelude, ReplayedSource, read_prelude
from datasources.engines.mongodb.restore import source_database as source_database_of
from datasources.engines.process import ProcessStream
from executions.models import BackupExecution
from executions.restore import perform_restore, restore_execution
from executions.verification import verify_backup
from tests.factories import DatasourceFactory
from tests.support.jobs import artifact_dir, run_failing_backup
from tests.support.recipes import run_recipe
from tests.support.standin_tools import last_run, runs, write_standin

HOST = "127.0.0.1"
USER = "backup"
PASSWORD = 's3cr"et \\pa:ss#' + os.urandom(4).hex()
SOURCE_DB = "shop"
COLLECTIONS = {"customers": 120, "orders": 3000, "logs_2024": 40}
DUMP_BYTES = 5 * 1024 * 1024 + 12345
PACKAGE = "mongodb-database-tools"


# --- the wire-protocol stand-in --------------------------------------------------------------


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


class MongoStandin:
    """A loopback MongoDB that logs in ``USER``/``PASSWORD`` with SCRAM-SHA-256 and answers
    ``hello``, ``ping``, ``buildInfo``, ``listCollections``, ``count`` and ``dropDatabase``.
    ``databases`` maps a database to its collections' document counts; a database named
    ``dgverify_*`` (a verification's scratch copy) holds ``restored``."""

    def __init__(self, *, set_name: str | None = "rs0") -> None:
        self.databases: dict[str, dict[str, int]] = {SOURCE_DB: dict(COLLECTIONS)}
        self.restored: dict[str, int] = dict(COLLECTIONS)
        self.dropped: list[str] = []
        self.commands: list[str] = []
        self.set_name = set_name
        self._conversations: dict[int, tuple[str, str, bytes]] = {}
        self._lock = threading.Lock()
        self.server = MockupDB(auto_ismaster=False, verbose=False)
        self.server.autoresponds(self._handle)
        self.port = self.server.run()

    def stop(self) -> None:
        self.server.stop()

    def _collections(self, database: str) -> dict[str, int]:
        if database.startswith("dgverify_"):
            return self.restored
        return self.databases.get(database, {})

    def _handle(self, request: Any) -> bool:
        name = request.command_name
        doc = request.doc
        with self._lock:
            self.commands.append(name)
        if name in ("ismaster", "isMaster", "hello"):
            reply: dict[str, Any] = {
                "ismaster": True,
                "isWritablePrimary": True,
                "secondary": False,
                "maxWireVersion": 21,
                "minWireVersion": 0,
                "maxBsonObjectSize": 16 * 1024 * 1024,
                "saslSupportedMechs": ["SCRAM-SHA-256"],
            }
            if self.set_name:
                reply.update(setName=self.set_name, hosts=[f"{HOST}:{self.port}"])
            return bool(request.ok(**reply))
        if name == "saslStart":
            return bool(self._sasl_start(request, bytes(doc["payload"])))
        if name == "saslContinue":
            return bool(self._sasl_continue(request, doc["conversationId"], bytes(doc["payload"])))
        if name == "ping":
            return bool(request.ok())
        if name in ("buildInfo", "buildinfo"):
            return bool(request.ok(version="7.0.5", gitVersion="standin"))
        if name == "listCollections":
            database = doc["$db"]
            batch = [{"name": c, "type": "collection"} for c in self._collections(database)]
            cursor = {"id": Int64(0), "ns": f"{database}.$cmd.listCollections", "firstBatch": batch}
            return bool(request.ok(cursor=cursor))
        if name == "count":
            return bool(request.ok(n=self._collections(doc["$db"]).get(doc["count"], 0)))
        if name == "dropDatabase":
            with self._lock:
                self.dropped.append(doc["$db"])
            return bool(request.ok())
        return bool(request.ok())

    # SCRAM-SHA-256 (RFC 7677), the server's half.

    @staticmethod
    def _auth_failed(request: Any) -> Any:
        return request.reply(
            ok=0, errmsg="Authentication failed.", code=18, codeName="AuthenticationFailed"
        )

    def _sasl_start(self, request: Any, payload: bytes) -> Any:
        bare = payload.decode().split(",", 2)[2]
        fields = dict(item.split("=", 1) for item in bare.split(","))
        salt = os.urandom(16)
        nonce = fields["r"] + base64.b64encode(os.urandom(18)).decode()
        first = f"r={nonce},s={base64.b64encode(salt).decode()},i=4096"
        with self._lock:
            conversation = len(self._conversations) + 1
            self._conversations[conversation] = (bare, first, salt)
        if fields["n"] != USER:
            return self._auth_failed(request)
        return request.ok(conversationId=conversation, done=False, payload=first.encode())

    def _sasl_continue(self, request: Any, conversation: int, payload: bytes) -> Any:
        bare, first, salt = self._conversations[conversation]
        final = payload.decode()
        without_proof, proof = final.rsplit(",p=", 1)
        salted = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, 4096)
        client_key = _hmac(salted, b"Client Key")
        stored_key = hashlib.sha256(client_key).digest()
        message = f"{bare},{first},{without_proof}".encode()
        signature = _hmac(stored_key, message)
        recovered = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature, strict=True))
        if hashlib.sha256(recovered).digest() != stored_key:
            return self._auth_failed(request)
        server_signature = _hmac(_hmac(salted, b"Server Key"), message)
        answer = b"v=" + base64.b64encode(server_signature)
        return request.ok(conversationId=conversation, done=True, payload=answer)


@pytest.fixture
def mongo() -> Iterator[MongoStandin]:
    server = MongoStandin()
    yield server
    server.stop()


# --- the tool stand-ins ----------------------------------------------------------------------


def archive_bytes(databases: dict[str, list[str]], body: int = DUMP_BYTES) -> bytes:
    """A mongodump archive's prelude (magic, header, one document per namespace,
    terminator) followed by ``body`` pseudo-random bytes standing in for the documents."""
    head = struct.pack("<I", 0x8199E26D) + bson.encode(
        {"concurrent_collections": 4, "version": "0.1", "server_version": "7.0.5"}
    )
    for database, collections in databases.items():
        for collection in collections:
            head += bson.encode(
                {"db": database, "collection": collection, "metadata": "", "size": 0}
            )
    return head + b"\xff\xff\xff\xff" + random.Random(7).randbytes(body)


class Tools:
    """The stand-in ``mongodump``/``mongorestore`` in ``bin``, first on PATH."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.dump = root / "dump.archive"
        self.dump.write_bytes(archive_bytes({SOURCE_DB: list(COLLECTIONS)}))
        self.restored = root / "restored.archive"
        self.write_mongodump()
        self.write_mongorestore()
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ['PATH']}")

    def write_mongodump(self, **behaviour: Any) -> None:
        write_standin(
            self.bin,
            "mongodump",
            secrets=[PASSWORD],
            file_flags=["--config="],
            emit=self.dump,
            version="mongodump version: 100.9.4\ngit version: standin",
            **behaviour,
        )

    def write_mongorestore(self, **behaviour: Any) -> None:
        write_standin(
            self.bin,
            "mongorestore",
            secrets=[PASSWORD],
            file_flags=["--config="],
            consume_to=self.restored,
            version="mongorestore version: 100.9.4",
            **behaviour,
        )

    def last(self, name: str) -> dict[str, Any]:
        return last_run(self.bin, name)


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tools:
    return Tools(tmp_path, monkeypatch)


def connection(mongo: MongoStandin, **overrides: Any) -> dict[str, Any]:
    return {
        "host": HOST,
        "port": mongo.port,
        "database": SOURCE_DB,
        "username": USER,
        "password": PASSWORD,
        "ssl_enabled": False,
        **overrides,
    }


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def dump_to_bytes(config: dict[str, Any], options: dict[str, Any], temp_dir: Path) -> Any:
    with MongoDBEngine().backup(config, options, temp_dir) as stream:
        data = bytearray()
        while chunk := stream.read(65536):
            data += chunk
        return bytes(data), stream.finish()


def assert_secret_free(run: dict[str, Any]) -> None:
    assert PASSWORD not in json.dumps(run["argv"])
    assert all(PASSWORD not in value for value in run["env"].values())


# --- backup: arguments, secrets, metadata ---------------------------------------------------


def test_a_dump_is_an_uncompressed_archive_of_the_database_with_the_password_in_a_0600_file(
    mongo, tools, work_dir
):
    data, result = dump_to_bytes(connection(mongo), {}, work_dir)

    run = tools.last("mongodump")
    config_file = run["files"]["--config="]
    assert run["argv"][1:] == [
        f"--config={config_file['path']}",
        f"--uri=mongodb://{HOST}:{mongo.port}/",
        f"--username={USER}",
        "--authenticationDatabase=admin",
        "--archive",
        f"--db={SOURCE_DB}",
    ]
    assert not any("gzip" in arg or "oplog" in arg for arg in run["argv"])
    assert config_file["mode"] == 0o600
    assert config_file["content"] == f"password: {json.dumps(PASSWORD)}\n"
    assert_secret_free(run)
    assert set(run["env"]) == {"PATH", "LANG", "LC_ALL", "HOME"}
    assert data == tools.dump.read_bytes()
    assert result.metadata["database_version"] == "MongoDB 7.0.5"
    assert result.metadata["tool_version"] == "mongodump version: 100.9.4"
    assert result.metadata["source_database"] == SOURCE_DB
    assert result.metadata["tables_backed_up"] == 3
    assert result.metadata["rows_approximate"] == sum(COLLECTIONS.values())
    assert result.metadata["oplog"] is False
    assert MongoDBEngine().artifact_extension({}) == "archive"
    assert list(work_dir.iterdir()) == []


def test_the_yaml_value_of_the_password_reads_back_as_the_password():
    yaml = pytest.importorskip("yaml")
    for value in (PASSWORD, "é ü \t\n'\"\\ #: -", "plain"):
        assert yaml.safe_load(f"password: {yaml_string(value)}\n") == {"password": value}


def test_include_and_exclude_patterns_exclude_every_other_collection(mongo, tools, work_dir):
    _, result = dump_to_bytes(
        connection(mongo),
        {"include_collections": ["cust*", "logs_*"], "exclude_collections": ["logs_2024"]},
        work_dir,
    )

    argv = tools.last("mongodump")["argv"]
    assert [a for a in argv if a.startswith("--excludeCollection=")] == [
        "--excludeCollection=logs_2024",
        "--excludeCollection=orders",
    ]
    assert f"--db={SOURCE_DB}" in argv
    assert result.metadata["tables_backed_up"] == 1
    assert result.metadata["rows_approximate"] == COLLECTIONS["customers"]


def test_an_include_pattern_matching_nothing_fails_naming_it(mongo, tools, work_dir):
    with (
        pytest.raises(EngineError, match="nothing_like_this"),
        MongoDBEngine().backup(
            connection(mongo), {"include_collections": ["nothing_like_this*"]}, work_dir
        ),
    ):
        pass
    assert [r for r in runs(tools.bin, "mongodump") if "--version" not in r["argv"]] == []


def test_oplog_dumps_the_whole_instance_and_only_when_asked(mongo, tools, work_dir):
    _, result = dump_to_bytes(connection(mongo), {"oplog": True}, work_dir)

    argv = tools.last("mongodump")["argv"]
    assert argv[-2:] == ["--archive", "--oplog"]
    assert not any(a.startswith(("--db", "--excludeCollection")) for a in argv)
    assert result.metadata["oplog"] is True


def test_oplog_with_a_collection_selection_is_refused_before_any_dump(mongo, tools, work_dir):
    with (
        pytest.raises(EngineError, match="whole instance"),
        MongoDBEngine().backup(
            connection(mongo), {"oplog": True, "exclude_collections": ["logs_*"]}, work_dir
        ),
    ):
        pass
    assert runs(tools.bin, "mongodump") == []


def test_tls_and_the_authentication_database_reach_the_tool(mongo, tools, work_dir):
    config = MongoDBEngine.config_schema.validate_data(
        connection(mongo, ssl_enabled=True, auth_source="users")
    )

    argv = dump_argv(
        "mongodump", MongoConnection.parse(config), work_dir / "c", oplog=False, excluded=[]
    )

    assert argv[1:] == [
        f"--config={work_dir / 'c'}",
        f"--uri=mongodb://{HOST}:{mongo.port}/",
        f"--username={USER}",
        "--authenticationDatabase=users",
        "--tls",
        "--archive",
        f"--db={SOURCE_DB}",
    ]


def test_without_a_password_there_is_no_config_file_argument(work_dir):
    config = {"host": "::1", "database": "app", "username": "", "password": ""}
    argv = dump_argv(
        "mongodump", MongoConnection.parse(config), work_dir / "c", oplog=False, excluded=[]
    )
    assert argv[1:] == ["--uri=mongodb://[::1]:27017/", "--archive", "--db=app"]


def test_the_default_authentication_database_is_admin():
    validated = MongoDBEngine().config_schema.validate_data(
        {"host": "mongo", "database": "app", "username": "u", "password": "p"}
    )
    assert validated["auth_source"] == "admin"
    assert validated["port"] == 27017


def test_an_unreachable_server_is_a_transient_failure_before_mongodump_runs(
    tools, work_dir, monkeypatch
):
    monkeypatch.setattr(client_module, "CATALOGUE_TIMEOUT_SECONDS", 1.0)
    config = {
        "host": HOST,
        "port": _closed_port(),
        "database": SOURCE_DB,
        "username": USER,
        "password": PASSWORD,
    }
    with (
        pytest.raises(TransientEngineError, match="MongoDB at") as raised,
        MongoDBEngine().backup(config, {}, work_dir),
    ):
        pass
    assert PASSWORD not in str(raised.value)
    assert [r for r in runs(tools.bin, "mongodump") if "--version" not in r["argv"]] == []


def test_leaving_the_context_without_finishing_stops_mongodump(mongo, tools, work_dir):
    with MongoDBEngine().backup(connection(mongo), {}, work_dir) as stream:
        assert stream.read(10)
        assert isinstance(stream, ProcessStream)
        pid = stream.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert list(work_dir.iterdir()) == []


def test_select_collections_keeps_the_listing_order():
    listed = [Collection("a", 1), Collection("b", 2), Collection("c", 3)]
    assert select_collections(listed, [], ["b"]) == [listed[0], listed[2]]
    with pytest.raises(EngineError, match="leaves none"):
        select_collections(listed, ["a"], ["a"])


# --- the archive prelude -------------------------------------------------------------------


def test_the_prelude_names_the_source_database_and_is_replayed_in_front_of_the_rest():
    archive = archive_bytes({"app": ["users", "orders"]}, body=1000)

    class Source:
        def __init__(self) -> None:
            self.offset = 0

        def read(self, size: int = -1, /) -> bytes:
            size = 7 if size < 0 else min(size, 7)  # a source that returns short reads
            piece = archive[self.offset : self.offset + size]
            self.offset += len(piece)
            return piece

    source = Source()
    prelude = read_prelude(source)
    assert prelude.databases == ["app"]
    assert source_database_of({"engine": {}}, prelude) == "app"
    assert source_database_of({"engine": {"source_database": "other"}}, prelude) == "other"
    replayed = ReplayedSource(prelude.raw, source)
    out = b""
    while piece := replayed.read(100):
        out += piece
    assert out == archive


def test_an_archive_of_several_databases_without_a_record_is_refused():
    with pytest.raises(EngineError, match="Cannot tell"):
        source_database_of({"engine": {}}, Prelude(["a", "b", "admin"], b""))


def test_bytes_that_are_not_an_archive_are_refused():
    class Source:
        def read(self, size: int = -1, /) -> bytes:
            return b"PGDMP..."[: max(size, 0)]

    with pytest.raises(EngineError, match="not a mongodump archive"):
        read_prelude(Source())


# --- the pipeline: backup, chunks, manifest, restore -----------------------------------------

pipeline = pytest.mark.django_db


@pipeline
def test_a_chunked_backup_restores_byte_for_byte_into_another_database(
    mongo, tools, backup_of, caplog
):
    caplog.set_level(logging.DEBUG)
    backup = backup_of("mongodb", connection(mongo), max_file_size_mb=1)

    assert backup.status == BackupExecution.Status.COMPLETED, backup.error_message
    assert backup.chunks.count() >= 5
    directory = artifact_dir(backup)
    parts = sorted(p.name for p in directory.iterdir() if ".part" in p.name)
    assert parts[0] == "backup.archive.zst.part001"
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["engine"]["artifact_format"] == "archive"
    assert manifest["engine"]["database_version"] == "MongoDB 7.0.5"
    assert manifest["engine"]["source_database"] == SOURCE_DB
    assert manifest["engine"]["oplog"] is False
    assert manifest["size_bytes"] == tools.dump.stat().st_size
    assert backup.metadata["source_database"] == SOURCE_DB
    assert backup.metadata["tables_backed_up"] == 3

    target = DatasourceFactory.create(
        type="mongodb", connection_config=connection(mongo, database="shop_copy")
    )
    restore = restore_execution(
        backup, target_datasource=target, options={"drop": True}, confirm=True
    )
    assert perform_restore(restore), restore.error_message
    restore.refresh_from_db()

    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    assert tools.restored.read_bytes() == tools.dump.read_bytes()
    run = tools.last("mongorestore")
    config_file = run["files"]["--config="]
    assert run["argv"][1:] == [
        f"--config={config_file['path']}",
        f"--uri=mongodb://{HOST}:{mongo.port}/",
        f"--username={USER}",
        "--authenticationDatabase=admin",
        "--archive",
        "--drop",
        f"--nsInclude={SOURCE_DB}.*",
        f"--nsFrom={SOURCE_DB}.*",
        "--nsTo=shop_copy.*",
    ]
    assert config_file["mode"] == 0o600
    assert config_file["content"] == f"password: {json.dumps(PASSWORD)}\n"
    assert_secret_free(run)
    assert_secret_free(tools.last("mongodump"))
    assert PASSWORD not in caplog.text
    assert PASSWORD not in json.dumps(backup.metadata) + json.dumps(restore.metadata)


@pipeline
def test_a_restore_into_its_own_database_neither_drops_nor_renames_unless_asked(
    mongo, tools, backup_of
):
    backup = backup_of("mongodb", connection(mongo))
    restore = restore_execution(
        backup, target_datasource=backup.datasource, options={}, confirm=True
    )
    assert perform_restore(restore), restore.error_message

    argv = tools.last("mongorestore")["argv"]
    assert "--drop" not in argv
    assert not any(a.startswith(("--nsFrom", "--nsTo", "--oplogReplay")) for a in argv)
    assert tools.restored.read_bytes() == tools.dump.read_bytes()


@pipeline
def test_an_oplog_backup_restored_into_its_own_database_replays_the_oplog(mongo, tools, backup_of):
    backup = backup_of("mongodb", connection(mongo), oplog=True)
    restore = restore_execution(
        backup, target_datasource=backup.datasource, options={}, confirm=True
    )
    assert perform_restore(restore), restore.error_message

    argv = tools.last("mongorestore")["argv"]
    assert "--oplogReplay" in argv
    assert not any(a.startswith("--ns") for a in argv)


@pipeline
def test_a_failing_mongorestore_fails_the_restore_with_its_message_and_no_secret(
    mongo, tools, backup_of
):
    backup = backup_of("mongodb", connection(mongo))
    tools.write_mongorestore(exit_code=1, stderr=f"Failed: restore error ({PASSWORD})")
    restore = restore_execution(
        backup, target_datasource=backup.datasource, options={}, confirm=True
    )

    assert not perform_restore(restore)
    restore.refresh_from_db()

    assert restore.status == BackupExecution.Status.FAILED
    message = restore.error_message or ""
    assert "mongorestore exited with status 1" in message
    assert PASSWORD not in message
    assert PASSWORD not in (restore.error_stack or "")


@pipeline
def test_a_failing_mongodump_fails_the_backup_with_its_message_and_no_secret(
    mongo, tools, make_job, caplog
):
    tools.write_mongodump(
        exit_code=1,
        stderr=f"Failed: (Unauthorized) not authorized on shop to execute command ({PASSWORD})",
    )
    execution = run_failing_backup(make_job("mongodb", connection(mongo)))

    message = execution.error_message or ""
    assert "mongodump exited with status 1" in message
    assert "not authorized on shop" in message
    assert "Traceback" not in message
    assert PASSWORD not in message
    assert PASSWORD not in (execution.error_stack or "")
    assert PASSWORD not in caplog.text
    assert "********" in message


@pipeline
def test_a_missing_mongodump_names_the_package_at_backup_time(
    mongo, make_job, tmp_path, monkeypatch
):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    execution = run_failing_backup(make_job("mongodb", connection(mongo)))

    assert PACKAGE in (execution.error_message or "")
    assert "mongodump" in (execution.error_message or "")
    assert "Traceback" not in (execution.error_message or "")


def test_a_missing_mongodump_names_the_package_in_the_connection_test(mongo, tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    result = connection_test("mongodb", connection(mongo))

    assert result.status == "error"
    assert PACKAGE in result.error_message
    assert "mongodump" in result.error_message
    assert "mongorestore" in result.error_message


def test_the_connection_test_passes_with_the_tools_and_the_server(mongo, tools):
    result = connection_test("mongodb", connection(mongo))
    assert result.status == "ok", result.error_message


# --- health ----------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_healthy_server_reports_its_version_and_replica_set_role(mongo):
    result = MongoDBEngine().check_health(connection(mongo), 2.0)

    assert result.status == "ok", result.error_message
    assert result.metadata == {"version": "MongoDB 7.0.5", "replica_set": "rs0", "role": "primary"}
    assert result.latency_ms is not None
    assert {"ping", "buildInfo", "hello", "saslStart", "saslContinue"} <= set(mongo.commands)


def test_a_standalone_server_says_so():
    server = MongoStandin(set_name=None)
    try:
        result = MongoDBEngine().check_health(connection(server), 2.0)
    finally:
        server.stop()
    assert result.status == "ok", result.error_message
    assert result.metadata["replica_set"] is None
    assert result.metadata["role"] == "standalone"


def test_a_wrong_password_is_auth_failed_without_the_password(mongo):
    wrong = "wrong-" + PASSWORD
    result = MongoDBEngine().check_health(connection(mongo, password=wrong), 2.0)

    assert result.status == "auth_failed", result.error_message
    assert "Authentication failed" in result.error_message
    assert wrong not in result.error_message


def test_a_closed_port_is_unreachable():
    config = {"host": HOST, "port": _closed_port(), "database": "x", "username": "u"}
    result = MongoDBEngine().check_health(config, 1.0)

    assert result.status == "unreachable", result.error_message
    assert "MongoDB at" in result.error_message


def test_a_silent_server_is_a_timeout():
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(8)
        config = {"host": HOST, "port": listener.getsockname()[1], "database": "x", "username": "u"}
        result = MongoDBEngine().check_health(config, 0.5)
    assert result.status == "timeout", result.error_message


# --- verification ----------------------------------------------------------------------------


@pipeline
def test_a_good_backup_passes_its_verification_and_the_scratch_database_is_dropped(
    mongo, tools, backup_of
):
    backup = backup_of("mongodb", connection(mongo))

    result = verify_backup(backup)

    assert result["status"] == "passed", result
    checks = {check["name"]: check for check in result["checks"]}
    assert checks["table_count"]["ok"] is True
    assert checks["row_count"]["detail"].startswith(f"{sum(COLLECTIONS.values())} rows restored")
    assert result["counts"] == {"documents_per_collection": COLLECTIONS}
    argv = tools.last("mongorestore")["argv"]
    scratch = next(a for a in argv if a.startswith("--nsTo=")).removeprefix("--nsTo=")[:-2]
    assert scratch.startswith("dgverify_")
    assert f"--nsFrom={SOURCE_DB}.*" in argv
    assert "--drop" not in argv
    assert mongo.dropped == [scratch]


@pipeline
def test_a_collection_that_comes_back_empty_fails_the_verification(mongo, tools, backup_of):
    backup = backup_of("mongodb", connection(mongo))
    mongo.restored = {**COLLECTIONS, "orders": 0}

    result = verify_backup(backup)

    assert result["status"] == "failed"
    checks = {check["name"]: check for check in result["checks"]}
    assert checks["row_count"]["ok"] is False
    assert result["counts"]["documents_per_collection"]["orders"] == 0
    assert len(mongo.dropped) == 1


@pipeline
def test_sql_assertions_fail_a_mongodb_verification_saying_why(mongo, tools, backup_of):
    backup = backup_of(
        "mongodb", connection(mongo), verification_assertions=["SELECT count(*) > 0 FROM t"]
    )

    result = verify_backup(backup)

    assert result["status"] == "failed"
    checks = {check["name"]: check for check in result["checks"]}
    assert checks["assertion_1"]["ok"] is False
    assert "SQL" in checks["assertion_1"]["detail"]


@pipeline
def test_the_manual_restore_recipe_feeds_the_joined_chunks_to_mongorestore(
    mongo, tools, backup_of, tmp_path
):
    """docs/RESTORE.md's MongoDB recipe, run as written against a stored chunked backup, with
    the stand-in mongorestore checking it gets the password only through its 0600 file."""
    backup = backup_of("mongodb", connection(mongo), max_file_size_mb=1)
    work = tmp_path / "manual"
    work.mkdir()

    run_recipe(
        "mongodb",
        artifact_dir(backup),
        stdin=PASSWORD + "\n",
        PATH=f"{tools.bin}:/usr/bin:/bin",
        DECOMPRESS="zstd -dc",
        WORK_DIR=str(work),
        MONGO_HOST=HOST,
        MONGO_PORT=str(mongo.port),
        MONGO_USER=USER,
        AUTH_SOURCE="admin",
        SOURCE_DB=SOURCE_DB,
        TARGET_DB="shop_by_hand",
    )
    assert tools.restored.read_bytes() == tools.dump.read_bytes()
    run = tools.last("mongorestore")
    config_file = run["files"]["--config="]
    assert config_file["mode"] == 0o600
    assert config_file["content"] == f"password: {json.dumps(PASSWORD)}\n"
    assert "--nsTo=shop_by_hand.*" in run["argv"]
    assert_secret_free(run)
    assert list(work.iterdir()) == []
