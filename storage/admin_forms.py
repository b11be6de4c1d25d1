"""The storage location form of the admin: settings tested on save."""

from __future__ import annotations

from typing import Any

from core.admin_connection import ConnectionProblem, ConnectionTestedForm
from storage.connection import connection_failure


class StorageLocationForm(ConnectionTestedForm):
    """A location's form: per-type settings (from the adapter's schema), tested (reach, write
    and remove a probe file) before saving."""

    def test_connection(self, config_type: str, config: dict[str, Any]) -> ConnectionProblem | None:
        failure = connection_failure(config_type, config)
        if failure is None:
            return None
        return ConnectionProblem(failure.category, failure.message)
