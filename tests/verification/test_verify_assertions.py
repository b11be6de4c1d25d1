"""The job's ``verification_assertions``: SQL run in the verified copy, each must be true."""

from __future__ import annotations

from typing import Any

import pytest

from executions.verification import verify_backup
from notifications.models import Notification
from tests.support.databases import scratch_databases

pytestmark = pytest.mark.django_db


def _assertion(result: dict[str, Any], number: int) -> dict[str, Any]:
    checks: dict[str, dict[str, Any]] = {c["name"]: c for c in result["checks"]}
    return checks[f"assertion_{number}"]


def test_a_true_assertion_passes(backup_of, shop_connection):
    backup = backup_of(
        "postgres",
        shop_connection,
        verification_assertions=["SELECT count(*) = 2000 FROM customers"],
    )
    result = verify_backup(backup)
    assert result["status"] == "passed", result
    assert _assertion(result, 1)["ok"] is True


def test_a_false_assertion_fails_the_verification(backup_of, shop_connection):
    backup = backup_of(
        "postgres",
        shop_connection,
        verification_assertions=[
            "SELECT count(*) > 0 FROM orders",
            "SELECT count(*) > 1000000 FROM customers",
        ],
    )
    result = verify_backup(backup)
    assert result["status"] == "failed"
    assert _assertion(result, 1)["ok"] is True
    assert _assertion(result, 2)["ok"] is False
    assert Notification.objects.filter(type="verification_failed", entity_id=backup.id).exists()
    assert scratch_databases() == []


def test_an_assertion_that_raises_fails_with_the_database_message(backup_of, shop_connection):
    backup = backup_of(
        "postgres", shop_connection, verification_assertions=["SELECT count(*) FROM missing"]
    )
    result = verify_backup(backup)
    assert result["status"] == "failed"
    assert "missing" in str(_assertion(result, 1)["detail"])
    assert "does not exist" in str(_assertion(result, 1)["detail"])


def test_an_assertion_returning_several_rows_fails(backup_of, shop_connection):
    backup = backup_of(
        "postgres", shop_connection, verification_assertions=["SELECT id FROM orders"]
    )
    result = verify_backup(backup)
    assert result["status"] == "failed"
    assert "must return one value" in str(_assertion(result, 1)["detail"])


def test_an_assertion_cannot_change_the_verified_copy(backup_of, shop_connection):
    backup = backup_of(
        "postgres",
        shop_connection,
        verification_assertions=[
            "DELETE FROM customers RETURNING true",
            "SELECT count(*) = 2000 FROM customers",
        ],
    )
    result = verify_backup(backup)
    assert _assertion(result, 2)["ok"] is True, result
