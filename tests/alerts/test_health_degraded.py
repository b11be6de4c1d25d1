"""``health_degraded``: raised by the health check that moves a datasource from ``healthy`` or
``unknown`` into ``warning`` (a failing check before the third in a row, a slow passing check,
a check passing with the engine's warning), once per move. Real checks of the local
PostgreSQL: a closed port fails, a relay that waits before passing the connection on makes a
passing check slow."""

from __future__ import annotations

from typing import Any

import pytest

from datasources import health
from datasources.engines.files import health as files_health
from datasources.models import Datasource
from notifications.models import Notification
from tests.factories import DatasourceFactory
from tests.support.network import closed_port

pytestmark = pytest.mark.django_db

TIMEOUT = 2.0  # slow above 1000 ms (half of it)
PG = {"host": "127.0.0.1", "port": 5432, "database": "postgres", "username": "postgres"}


@pytest.fixture
def postgres() -> Datasource:
    datasource: Datasource = DatasourceFactory.create(
        type="postgres", connection_config={**PG, "password": ""}, tags=["production", "eu"]
    )
    return datasource


def _point_at(datasource: Datasource, port: int) -> None:
    datasource.connection_config = {**datasource.connection_config, "port": port}
    datasource.save()


def _check(datasource: Datasource) -> Datasource.Status:
    health.check_datasource(datasource, timeout=TIMEOUT)
    datasource.refresh_from_db()
    return Datasource.Status(datasource.status)


def _types(datasource: Datasource) -> list[str]:
    return list(
        Notification.objects.filter(entity_id=datasource.pk)
        .order_by("created_at")
        .values_list("type", flat=True)
    )


def _degraded(datasource: Datasource) -> list[Notification]:
    return list(Notification.objects.filter(entity_id=datasource.pk, type="health_degraded"))


def test_the_slow_threshold_is_half_the_check_timeout():
    assert health.slow_check_ms(TIMEOUT) == 1000
    assert health.SLOW_CHECK_MS == health.slow_check_ms(health.CHECK_TIMEOUT_SECONDS) == 5000


def test_a_first_failing_check_raises_health_degraded_with_its_error(postgres):
    _point_at(postgres, closed_port())

    assert _check(postgres) == Datasource.Status.WARNING

    [degraded] = _degraded(postgres)
    assert degraded.severity == "warning"
    assert degraded.metadata["reason"] == "partial"
    assert degraded.metadata["status"] == "unreachable"
    assert "Connection refused" in degraded.message


def test_a_second_failing_check_raises_nothing_more(postgres):
    _point_at(postgres, closed_port())
    _check(postgres)

    assert _check(postgres) == Datasource.Status.WARNING

    assert _types(postgres) == ["health_degraded"]


def test_the_third_failing_check_raises_connection_lost_and_no_second_health_degraded(postgres):
    _point_at(postgres, closed_port())
    _check(postgres)
    _check(postgres)

    assert _check(postgres) == Datasource.Status.CRITICAL

    assert _types(postgres) == ["health_degraded", "connection_lost"]


def test_a_slow_passing_check_raises_health_degraded_with_its_latency(postgres, slow_postgres):
    slow_postgres.delay = 1.3
    _point_at(postgres, slow_postgres.port)

    assert _check(postgres) == Datasource.Status.WARNING

    [degraded] = _degraded(postgres)
    assert degraded.metadata["reason"] == "slow"
    assert degraded.metadata["status"] == "ok"
    assert degraded.metadata["latency_ms"] > 1000
    assert degraded.metadata["slow_above_ms"] == 1000
    assert f"took {degraded.metadata['latency_ms']} ms" in degraded.message


def test_a_fast_passing_check_is_healthy_and_raises_nothing(postgres, slow_postgres):
    _point_at(postgres, slow_postgres.port)  # no delay

    assert _check(postgres) == Datasource.Status.HEALTHY

    assert _types(postgres) == []


def test_a_check_passing_with_the_engine_s_warning_raises_health_degraded_with_it(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(files_health, "DISK_WARNING_PERCENT", -1.0)  # any disk is "full"
    files = DatasourceFactory.create(type="files", connection_config={"source_path": str(tmp_path)})

    assert _check(files) == Datasource.Status.WARNING

    [degraded] = _degraded(files)
    assert degraded.metadata["reason"] == "warning"
    assert "full" in degraded.message


def test_healthy_degraded_healthy_degraded_raises_health_degraded_twice(postgres):
    port = closed_port()
    for target in (5432, port, 5432, port):
        _point_at(postgres, target)
        _check(postgres)

    assert _types(postgres) == ["health_degraded", "health_degraded"]


def test_a_slow_check_after_a_failing_one_stays_warning_without_a_second_alert(
    postgres, slow_postgres
):
    _point_at(postgres, closed_port())
    _check(postgres)
    slow_postgres.delay = 1.3
    _point_at(postgres, slow_postgres.port)

    assert _check(postgres) == Datasource.Status.WARNING

    assert _types(postgres) == ["health_degraded"]


def test_a_slow_check_after_a_lost_connection_restores_it_without_health_degraded(
    postgres, slow_postgres
):
    _point_at(postgres, closed_port())
    for _ in range(3):
        _check(postgres)
    slow_postgres.delay = 1.3
    _point_at(postgres, slow_postgres.port)

    assert _check(postgres) == Datasource.Status.WARNING

    assert _types(postgres) == ["health_degraded", "connection_lost", "connection_restored"]


def test_every_health_notification_names_the_datasource_with_its_tags(postgres):
    _point_at(postgres, closed_port())
    for _ in range(3):
        _check(postgres)
    _point_at(postgres, 5432)
    _check(postgres)

    expected: dict[str, Any] = {
        "id": str(postgres.pk),
        "name": postgres.name,
        "tags": ["production", "eu"],
    }
    notifications = Notification.objects.filter(entity_id=postgres.pk)
    assert sorted(n.type for n in notifications) == [
        "connection_lost",
        "connection_restored",
        "health_degraded",
    ]
    assert all(n.metadata["datasource"] == expected for n in notifications)
