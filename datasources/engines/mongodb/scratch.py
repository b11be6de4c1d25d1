"""The scratch database a verification of a MongoDB backup restores into, and what is
counted in it.

MongoDB creates a database on its first write, so the scratch database is only named here;
the restore (renamed into it) creates it and the context drops it. SQL assertions do not
apply to documents: each one configured fails its check, saying so, rather than passing
unchecked.
"""

from __future__ import annotations

import secrets as _random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from datasources.engines.mongodb.client import (
    MongoConnection,
    count_documents,
    driver_error,
    list_collections,
    mongo_client,
)
from datasources.engines.verification import (
    SCRATCH_PREFIX,
    Check,
    Inspection,
    Scratch,
    scratch_secrets,
)

ASSERTIONS_UNSUPPORTED = (
    "Verification assertions are SQL queries; MongoDB verifications check collection and "
    "document counts only, so this assertion was not run. Remove it from the job."
)


@contextmanager
def mongodb_scratch(server: Mapping[str, Any]) -> Iterator[Scratch]:
    """A database ``dgverify_<hex>`` on ``server``, dropped when the context exits."""
    name = f"{SCRATCH_PREFIX}{_random.token_hex(6)}"
    config = {**server, "database": name}
    try:
        yield Scratch(config, inspect, scratch_secrets(server.get("password")))
    finally:
        drop_database(config)


def drop_database(config: Mapping[str, Any]) -> None:
    from pymongo.errors import PyMongoError

    connection = MongoConnection.parse(config)
    try:
        with mongo_client(connection) as client:
            client.drop_database(connection.database)
    except PyMongoError as exc:
        raise driver_error(connection, exc) from None


def inspect(config: dict[str, Any], assertions: list[str]) -> Inspection:
    """Count the restored collections and each one's documents."""
    from pymongo.errors import PyMongoError

    connection = MongoConnection.parse(config)
    try:
        with mongo_client(connection) as client:
            names = list_collections(client, connection.database)
            counts = {name: count_documents(client, connection.database, name) for name in names}
    except PyMongoError as exc:
        raise driver_error(connection, exc) from None
    results = [
        Check(f"assertion_{number}", False, f"{assertion!r}: {ASSERTIONS_UNSUPPORTED}")
        for number, assertion in enumerate(assertions, 1)
    ]
    return Inspection(
        tables=len(names),
        rows=sum(counts.values()),
        assertions=results,
        details={"documents_per_collection": counts},
    )
