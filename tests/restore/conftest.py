"""Fixtures of the restore tests; the backups they restore come from ``backup_of`` (root)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import DatasourceFactory


@pytest.fixture
def datasource_of(db) -> Callable[..., Any]:
    def make(kind: str, connection: dict[str, Any], name: str = "") -> Any:
        extra = {"name": name} if name else {}
        return DatasourceFactory.create(type=kind, connection_config=connection, **extra)

    return make
