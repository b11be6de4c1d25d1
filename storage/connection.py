"""Testing a storage location's settings before they are saved.

The API and the admin both refuse settings that do not work (unless the operator insists, in
the admin); both call the functions here, so they judge a configuration the same way. The test
reaches the location, writes a probe file and removes it; nothing is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.adapters import ADAPTERS
from storage.adapters.base import (
    StorageAuthFailed,
    StorageError,
    StorageFull,
    StoragePathMissing,
    StoragePermissionDenied,
    StorageUnreachable,
)

# The adapters' exceptions, in the operator's words. Order matters only for subclasses.
_CATEGORIES: list[tuple[type[StorageError], str]] = [
    (StorageUnreachable, "Unreachable"),
    (StorageAuthFailed, "Authentication failed"),
    (StoragePathMissing, "Missing"),
    (StoragePermissionDenied, "Permission denied"),
    (StorageFull, "Full"),
]


@dataclass(frozen=True)
class ConnectionFailure:
    """Why a location's settings do not work: ``category`` (``Unreachable``, ``Authentication
    failed``, ``Missing``, ``Permission denied``, ``Full`` or ``Error``), ``kind`` (the
    adapter's exception, empty when the type cannot be tested) and its secret-free message."""

    category: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}" if self.kind else self.message


def connection_failure(type_name: str, config: dict[str, Any]) -> ConnectionFailure | None:
    """``None`` when the location described by ``config`` works, else why not."""
    try:
        ADAPTERS.get(type_name)(config).test_connection()
    except StorageError as exc:
        category = next((name for cls, name in _CATEGORIES if isinstance(exc, cls)), "Error")
        return ConnectionFailure(category, type(exc).__name__, str(exc))
    except NotImplementedError:
        return ConnectionFailure("Error", "", f"Locations of type {type_name} cannot be tested.")
    return None


def test_connection(type_name: str, config: dict[str, Any]) -> str:
    """An empty string when the location works, else the adapter's readable reason."""
    failure = connection_failure(type_name, config)
    return str(failure) if failure else ""
