"""What every MongoDB run shares: the connection, the tools' arguments and config file, and
the pymongo client that reads the catalogue.

pymongo is imported inside the functions that use it: the engine registry imports engine
modules lazily, and a worker that never touches MongoDB should not pay for the driver.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rest_framework import serializers

from datasources.engines.base import (
    DatabaseConnection,
    DatabaseConnectionSchema,
    EngineError,
    TransientEngineError,
)
from datasources.engines.process import mask
from datasources.engines.tools import Tool

if TYPE_CHECKING:
    from pymongo import MongoClient

PACKAGE = "mongodb-database-tools"
DUMP_TOOL = Tool(("mongodump",), PACKAGE, "MongoDB backups")
RESTORE_TOOL = Tool(("mongorestore",), PACKAGE, "MongoDB restores")
DEFAULT_AUTH_SOURCE = "admin"
#: How long the catalogue reads of a backup, restore or verification may wait for the server.
CATALOGUE_TIMEOUT_SECONDS = 15.0
#: Databases MongoDB keeps for itself; never a source or target of a remapped restore.
SYSTEM_DATABASES = frozenset({"admin", "config", "local"})


class MongoDBConnectionSchema(DatabaseConnectionSchema):
    default_port = 27017

    auth_source = serializers.CharField(
        max_length=255,
        required=False,
        default=DEFAULT_AUTH_SOURCE,
        label="Authentication database",
        help_text="The database the user is defined in (authSource); usually admin.",
    )


@dataclass(frozen=True)
class MongoConnection:
    """A MongoDB ``connection_config``, parsed: the common fields plus ``auth_source``."""

    connection: DatabaseConnection
    auth_source: str

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> MongoConnection:
        return cls(
            MongoDBConnectionSchema.parse(config),
            str(config.get("auth_source") or DEFAULT_AUTH_SOURCE),
        )

    @property
    def database(self) -> str:
        return self.connection.database

    @property
    def password(self) -> str:
        return self.connection.password

    @property
    def secrets(self) -> list[str]:
        return [self.connection.password] if self.connection.password else []

    @property
    def where(self) -> str:
        return self.connection.where

    def uri(self) -> str:
        """``mongodb://host:port/``: no user, no password, no database (the database is an
        argument of its own; a URI naming one would make every dump a ``--db`` dump)."""
        host = self.connection.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"mongodb://{host}:{self.connection.port}/"


def yaml_string(value: str) -> str:
    """A double-quoted YAML scalar: JSON's string escapes are YAML's too. Non-ASCII stays as
    UTF-8, since some YAML readers mishandle escaped surrogate pairs."""
    return json.dumps(value, ensure_ascii=False)


def tool_config(connection: MongoConnection) -> str:
    """The ``--config`` file of mongodump / mongorestore: the password only, so it is in
    neither the argv nor the environment."""
    if not connection.password:
        return ""
    return f"password: {yaml_string(connection.password)}\n"


def connection_argv(connection: MongoConnection, config_file: Path) -> list[str]:
    """The connection arguments both tools take: the config file (when there is a password
    to hold), the URI without credentials, the user and its database, TLS."""
    argv = [f"--config={config_file}"] if connection.password else []
    argv.append(f"--uri={connection.uri()}")
    if connection.connection.username:
        argv += [
            f"--username={connection.connection.username}",
            f"--authenticationDatabase={connection.auth_source}",
        ]
    if connection.connection.ssl_enabled:
        argv.append("--tls")
    return argv


def first_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[0] if lines else ""


# --- pymongo ------------------------------------------------------------------------------


@contextmanager
def mongo_client(
    connection: MongoConnection, timeout: float = CATALOGUE_TIMEOUT_SECONDS
) -> Iterator[MongoClient[dict[str, Any]]]:
    """A client of the one server the config names (``directConnection``: a replica-set
    member is checked itself, not the set it would discover), every wait bounded by
    ``timeout``."""
    from pymongo import MongoClient

    milliseconds = max(1, round(timeout * 1000))
    options: dict[str, Any] = {
        "directConnection": True,
        "serverSelectionTimeoutMS": milliseconds,
        "connectTimeoutMS": milliseconds,
        "socketTimeoutMS": milliseconds,
        "tls": connection.connection.ssl_enabled,
        "appname": "dataguardian",
    }
    if connection.connection.username:
        options.update(
            username=connection.connection.username,
            password=connection.password,
            authSource=connection.auth_source,
        )
    client: MongoClient[dict[str, Any]] = MongoClient(
        connection.connection.host, connection.connection.port, **options
    )
    try:
        yield client
    finally:
        client.close()


def driver_error(connection: MongoConnection, exc: Exception) -> EngineError:
    """A pymongo failure as an ``EngineError``, masked; transient when the server could not
    be reached or did not answer in time."""
    from pymongo.errors import ConnectionFailure, OperationFailure

    message = mask(f"MongoDB at {connection.where}: {exc}", connection.secrets)
    if isinstance(exc, OperationFailure):
        return EngineError(message)
    if isinstance(exc, ConnectionFailure):
        return TransientEngineError(message)
    return EngineError(message)


@dataclass(frozen=True)
class Collection:
    name: str
    documents: int


@dataclass(frozen=True)
class Catalogue:
    """What the server says before a backup: its version and the database's collections."""

    version: str
    collections: list[Collection]


def list_collections(client: MongoClient[dict[str, Any]], database: str) -> list[str]:
    """The database's collections (not its views, nor ``system.*``), sorted."""
    names = [
        str(entry["name"])
        for entry in client[database].list_collections()
        if entry.get("type", "collection") == "collection"
        and not str(entry["name"]).startswith("system.")
    ]
    return sorted(names)


def count_documents(client: MongoClient[dict[str, Any]], database: str, name: str) -> int:
    """The ``count`` command without a filter: the collection's own count, no scan."""
    reply = client[database].command({"count": name})
    return int(reply.get("n") or 0)


def read_catalogue(connection: MongoConnection) -> Catalogue:
    """The server version and the database's collections with their document counts; a
    server pymongo cannot reach fails the backup here, before any tool starts."""
    from pymongo.errors import PyMongoError

    try:
        with mongo_client(connection, CATALOGUE_TIMEOUT_SECONDS) as client:
            info = client.admin.command("buildInfo")
            names = list_collections(client, connection.database)
            collections = [
                Collection(name, count_documents(client, connection.database, name))
                for name in names
            ]
    except PyMongoError as exc:
        raise driver_error(connection, exc) from None
    return Catalogue(f"MongoDB {info.get('version', 'unknown')}", collections)


def collection_names(collections: Sequence[Collection]) -> list[str]:
    return [collection.name for collection in collections]
