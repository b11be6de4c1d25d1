"""Stand-ins for what a SQL Server backup talks to, since neither SQL Server nor its tools can
run on this machine: a ``sqlpackage`` executable and the ``pymssql`` driver's ``connect``.

``SqlPackageStandIn`` writes a small Python script named ``sqlpackage`` into a directory the
test prepends to PATH. Each run appends what it saw to a JSON-lines log: its argv, its
environment, and the response file's path, mode and text. It refuses (exit 2) when the
password is in its argv or environment, answers ``/Version``, writes known pseudo-random bytes
to ``/TargetFile:`` for ``/Action:Export`` and copies ``/SourceFile:`` aside for
``/Action:Import``. ``control`` tells it to fail, or to stall mid-export.

``FakeSqlServer`` replaces ``pymssql.connect``: a login check, then cursors answering the
queries the engine sends with recorded rows. It knows only those queries; it is no server.
"""

from __future__ import annotations

import json
import random
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymssql

from datasources.engines.sqlserver import driver

EXPORT_SEED = 20_240_611
#: Bytes the stand-in's export writes: several MiB of incompressible data, not a round number.
EXPORT_BYTES = 3 * 1024 * 1024 + 12_345
TOOL_VERSION = "170.2.70.1"

_SCRIPT = r"""#!{python}
import json, os, random, shutil, stat, sys, time

LOG = {log!r}
CONTROL = {control!r}
SECRET = {secret!r}


def parse(arguments):
    params = {{}}
    for argument in arguments:
        if argument.startswith("/") and ":" in argument:
            name, value = argument[1:].split(":", 1)
            if name == "p":
                name, value = "p:" + value.split("=", 1)[0], value.split("=", 1)[1]
            params.setdefault(name, value)
    return params


def main():
    with open(CONTROL) as handle:
        control = json.load(handle)
    entry = {{"argv": sys.argv, "env": dict(os.environ)}}
    arguments = sys.argv[1:]
    if arguments and arguments[0].startswith("@"):
        rsp = arguments[0][1:]
        with open(rsp) as handle:
            text = handle.read()
        entry["rsp"] = {{
            "path": rsp,
            "mode": stat.S_IMODE(os.stat(rsp).st_mode),
            "text": text,
        }}
        arguments = [line.strip() for line in text.splitlines() if line.strip()]
        arguments = [a[1:-1] if a.startswith('"') and a.endswith('"') else a for a in arguments]
    params = parse(arguments)
    entry["params"] = params
    with open(LOG, "a") as handle:
        handle.write(json.dumps(entry) + "\n")
    if any(SECRET in argument for argument in sys.argv) or any(
        SECRET in value for value in os.environ.values()
    ):
        print("the password was in argv or the environment", file=sys.stderr)
        return 2
    if arguments == ["/Version"]:
        print({version!r})
        return 0
    action = params.get("Action")
    if control.get("fail"):
        print("Starting " + str(action) + "...")
        if action == "Export":
            with open(params["TargetFile"], "wb") as out:
                out.write(b"PK\x03\x04 a partial package")
        message = control.get("message") or "*** Error: the stand-in was told to fail."
        if control.get("echo_password"):
            password = params.get("SourcePassword") or params.get("TargetPassword") or ""
            message += " Password was " + password
        print(message, file=sys.stderr)
        return 1
    if action == "Export":
        target = params["TargetFile"]
        if not os.path.isdir(params["p:TempDirectoryForTableData"]):
            print("no table data directory", file=sys.stderr)
            return 3
        data = random.Random({seed}).randbytes({size})
        with open(target, "wb") as out:
            out.write(data[: len(data) // 2])
            out.flush()
            if control.get("stall"):
                time.sleep(float(control["stall"]))
            out.write(data[len(data) // 2 :])
        print("Exporting database '" + params["SourceDatabaseName"] + "'")
        print("Successfully exported database and saved it to file '" + target + "'.")
        return 0
    if action == "Import":
        shutil.copyfile(params["SourceFile"], control["import_copy"])
        print("Importing to database '" + params["TargetDatabaseName"] + "'")
        print("Successfully imported database.")
        return 0
    print("unknown action " + str(action), file=sys.stderr)
    return 4


sys.exit(main())
"""


def export_bytes() -> bytes:
    """What the stand-in's export writes."""
    return random.Random(EXPORT_SEED).randbytes(EXPORT_BYTES)


class SqlPackageStandIn:
    """The ``sqlpackage`` stand-in in ``directory`` (put on PATH by the caller)."""

    def __init__(self, directory: Path, secret: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.log = directory / "runs.jsonl"
        self.control_file = directory / "control.json"
        self.import_copy = directory / "imported.bacpac"
        self.path = directory / "sqlpackage"
        self.control()
        self.path.write_text(
            _SCRIPT.format(
                python=sys.executable,
                log=str(self.log),
                control=str(self.control_file),
                secret=secret,
                version=TOOL_VERSION,
                seed=EXPORT_SEED,
                size=EXPORT_BYTES,
            )
        )
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR)

    def control(self, **settings: Any) -> None:
        """``fail=True`` (exit 1 after a partial export file; ``echo_password=True`` puts the
        password in its error; ``message=`` replaces the error text),
        ``stall=<seconds>`` (pause half-way through the export)."""
        self.control_file.write_text(json.dumps({"import_copy": str(self.import_copy), **settings}))

    def runs(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def actions(self) -> list[dict[str, Any]]:
        """The runs that were an export or an import (not ``/Version``)."""
        return [run for run in self.runs() if "Action" in run["params"]]


# --- The driver -----------------------------------------------------------------------------


@dataclass
class FakeDatabase:
    tables: list[tuple[str, str, int]] = field(default_factory=list)
    state: str = "ONLINE"
    objects: int | None = None

    def user_objects(self) -> int:
        return len(self.tables) if self.objects is None else self.objects


@dataclass
class FakeSqlServer:
    """The rows ``pymssql.connect`` connections return, per database, and what was sent."""

    password: str
    version: str = (
        "Microsoft SQL Server 2022 (RTM-CU14) (KB5038325) - 16.0.4135.4 (X64) \n"
        "\tJul 10 2024 14:09:09 \n\tCopyright (C) 2022 Microsoft Corporation\n"
        "\tDeveloper Edition (64-bit) on Linux (Ubuntu 22.04.4 LTS) <X64>"
    )
    databases: dict[str, FakeDatabase] = field(default_factory=dict)
    assertions: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    #: Called with a database name nobody created: True to have it exist (the stand-in's
    #: import created it).
    imported: Any = None
    statements: list[tuple[str, str, tuple[Any, ...] | None]] = field(default_factory=list)
    connections: list[dict[str, Any]] = field(default_factory=list)
    rollbacks: int = 0

    def connect(self, **arguments: Any) -> FakeConnection:
        self.connections.append(arguments)
        if arguments.get("password") != self.password:
            user = arguments.get("user")
            raise pymssql.OperationalError(
                (
                    driver.LOGIN_FAILED,
                    f"Login failed for user '{user}'.DB-Lib error message 20018, severity 14:\n"
                    "General SQL Server error: Check messages from the SQL Server\n".encode(),
                )
            )
        database = str(arguments.get("database") or "master")
        self._exists(database)
        return FakeConnection(self, database)

    def _exists(self, name: str) -> FakeDatabase | None:
        if name == "master":
            return FakeDatabase()
        if name not in self.databases and self.imported is not None and self.imported(name):
            source = next(iter(self.databases.values()))
            self.databases[name] = FakeDatabase(tables=list(source.tables))
        return self.databases.get(name)

    def answer(self, database: str, sql: str, params: tuple[Any, ...] | None) -> list[Any]:
        self.statements.append((database, sql, params))
        here = self._exists(database) or FakeDatabase()
        if sql == driver.VERSION_QUERY:
            return [(self.version,)]
        if sql == driver.TABLES_QUERY:
            return list(here.tables)
        if sql == driver.STATE_QUERY:
            found = self._exists(str(params[0])) if params else None
            return [(found.state,)] if found else []
        if sql == driver.ACCESS_QUERY:
            return [(1,)]
        if sql == driver.USER_OBJECTS_QUERY:
            return [(here.user_objects(),)]
        if sql.startswith("SELECT COUNT_BIG(*) FROM "):
            wanted = sql.removeprefix("SELECT COUNT_BIG(*) FROM ")
            for schema, table, rows in here.tables:
                if wanted == f"{driver.quote_name(schema)}.{driver.quote_name(table)}":
                    return [(rows,)]
        if sql.startswith("DROP DATABASE "):
            name = sql.removeprefix("DROP DATABASE ")[1:-1]
            self.databases.pop(name, None)
            return []
        if sql.startswith("ALTER DATABASE "):
            return []
        if sql in self.assertions:
            return self.assertions[sql]
        raise pymssql.ProgrammingError((208, f"Invalid object name in {sql!r}.".encode()))


class FakeConnection:
    def __init__(self, server: FakeSqlServer, database: str) -> None:
        self.server = server
        self.database = database

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def rollback(self) -> None:
        self.server.rollbacks += 1

    def close(self) -> None:
        pass


class FakeCursor:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self._rows: list[Any] = []

    def execute(self, sql: str, params: tuple[Any, ...] | None = None) -> None:
        server = self.connection.server
        self._rows = server.answer(self.connection.database, sql, params)

    def fetchall(self) -> list[Any]:
        return self._rows

    def close(self) -> None:
        pass
