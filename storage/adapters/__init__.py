"""Storage adapters, one module per storage type. Adding a type is one module plus one line."""

from __future__ import annotations

from core.registry import Registry
from storage.adapters.base import StorageAdapter

ADAPTERS: Registry[StorageAdapter] = Registry(
    "storage",
    {
        "local": "storage.adapters.local.LocalAdapter",
        "s3": "storage.adapters.s3.S3Adapter",
        "ssh": "storage.adapters.ssh.SSHAdapter",
        "minio": "storage.adapters.minio.MinIOAdapter",
        "backblaze": "storage.adapters.backblaze.BackblazeAdapter",
    },
)


def secret_fields() -> frozenset[str]:
    """Keys of ``config`` encrypted at rest (used by the model field)."""
    return ADAPTERS.secret_fields()


def choices() -> list[tuple[str, str]]:
    """``(type, label)`` pairs for model, form and API choices."""
    return ADAPTERS.choices()
