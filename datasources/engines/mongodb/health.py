"""The health check with pymongo: ``ping``, the server version, the replica-set state."""

from __future__ import annotations

import time
from typing import Any

from datasources.engines.base import HealthResult, HealthStatus, elapsed_ms
from datasources.engines.mongodb.client import MongoConnection, mongo_client
from datasources.engines.process import mask

#: The server's code for a refused login (``AuthenticationFailed``).
AUTH_FAILED_CODE = 18
_UNREACHABLE_MARKERS = (
    "connection refused",
    "name or service not known",
    "nodename nor servname",
    "no route to host",
    "network is unreachable",
    "temporary failure in name resolution",
)


def _status(exc: Exception) -> HealthStatus:
    from pymongo.errors import (
        ConnectionFailure,
        NetworkTimeout,
        OperationFailure,
        ServerSelectionTimeoutError,
    )

    message = str(exc).lower()
    if isinstance(exc, OperationFailure):
        if exc.code == AUTH_FAILED_CODE or "authentication failed" in message:
            return "auth_failed"
        return "error"
    if isinstance(exc, ServerSelectionTimeoutError | ConnectionFailure):
        if any(marker in message for marker in _UNREACHABLE_MARKERS):
            return "unreachable"
        if isinstance(exc, ServerSelectionTimeoutError | NetworkTimeout) or "timed out" in message:
            return "timeout"
        return "unreachable"
    return "error"


def replica_set_state(hello: dict[str, Any]) -> dict[str, Any]:
    """What ``hello`` says of the node's place: standalone, or its set and role."""
    name = hello.get("setName")
    if not name:
        return {
            "replica_set": None,
            "role": "mongos" if hello.get("msg") == "isdbgrid" else "standalone",
        }
    if hello.get("isWritablePrimary") or hello.get("ismaster"):
        role = "primary"
    elif hello.get("secondary"):
        role = "secondary"
    elif hello.get("arbiterOnly"):
        role = "arbiter"
    else:
        role = "other"
    return {"replica_set": str(name), "role": role}


def check_health(config: dict[str, Any], timeout: float) -> HealthResult:
    """Log in, ``ping``, read ``buildInfo`` and ``hello``; every wait of the driver (server
    selection, connection, each reply) is bounded by ``timeout``."""
    from pymongo.errors import PyMongoError

    connection = MongoConnection.parse(config)
    started = time.monotonic()
    try:
        with mongo_client(connection, timeout) as client:
            client.admin.command("ping")
            latency = elapsed_ms(started)
            info = client.admin.command("buildInfo")
            hello = client.admin.command("hello")
    except PyMongoError as exc:
        message = mask(f"MongoDB at {connection.where}: {exc}", connection.secrets)
        return HealthResult(_status(exc), elapsed_ms(started), error_message=message)
    metadata = {"version": f"MongoDB {info.get('version', 'unknown')}", **replica_set_state(hello)}
    return HealthResult("ok", latency, metadata=metadata)
