"""The contract every storage adapter declares."""

from __future__ import annotations

from dataguardian.registry import Strategy


class StorageAdapter(Strategy):
    """A storage type: its ``config`` schema and, in its module, how to read and write there.

    Subclasses set ``name`` (the ``type`` stored on ``StorageLocation``), ``label``,
    ``config_schema`` and ``secret_fields``.
    """
