"""Anomalies: a completed backup whose size or row count is far below the median of the job's
last 5 completed backups raises ``backup_anomaly``. Real pg_dump runs of a database whose
table is emptied (``TRUNCATE``) between backups; ``rows_approximate`` comes from the catalogue,
so every change is followed by ``ANALYZE``."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from core import system_settings
from core.models import SystemSetting
from executions.alerts import ANOMALY_MIN_HISTORY, Comparison, compare_with_median
from jobs.models import BackupJob
from notifications.models import Notification
from tests.support.databases import pg_exec
from tests.support.jobs import run_backup


def _back_up(job: BackupJob, times: int) -> None:
    for _ in range(times):
        run_backup(job)


def _anomalies() -> list[Notification]:
    return list(Notification.objects.filter(type="backup_anomaly"))


def test_a_backup_far_smaller_than_the_ones_before_raises_backup_anomaly_with_the_figures(
    pg_job, rows_database
):
    _back_up(pg_job, 4)
    [(rows_before,)] = pg_exec("SELECT count(*) FROM items", rows_database)
    pg_exec("TRUNCATE items; ANALYZE items;", rows_database)

    execution = run_backup(pg_job)

    [anomaly] = _anomalies()
    assert anomaly.severity == "warning"
    assert anomaly.entity_id == execution.id
    assert anomaly.metadata["job_id"] == str(pg_job.pk)
    assert anomaly.metadata["dropped"] == ["size_bytes", "rows_approximate"]
    assert anomaly.metadata["threshold_percent"] == 50
    assert anomaly.metadata["compared_with"] == 4
    rows = anomaly.metadata["rows_approximate"]
    assert rows == {"value": 0, "median": rows_before, "drop_percent": 100.0, "anomalous": True}
    size = anomaly.metadata["size_bytes"]
    assert size["value"] == execution.size_bytes
    assert size["drop_percent"] > 90
    assert pg_job.name in anomaly.message
    assert f"rows (approximate) 0 against a median of {rows_before:,}" in anomaly.message
    assert "100 % below" in anomaly.message


def test_a_fifth_backup_like_the_ones_before_raises_no_anomaly(pg_job):
    _back_up(pg_job, 4)

    run_backup(pg_job)

    assert _anomalies() == []


def test_fewer_than_three_earlier_backups_raise_no_anomaly(pg_job, rows_database):
    _back_up(pg_job, ANOMALY_MIN_HISTORY - 1)
    pg_exec("TRUNCATE items; ANALYZE items;", rows_database)

    run_backup(pg_job)

    assert _anomalies() == []


def test_a_drop_within_the_configured_threshold_raises_no_anomaly(pg_job, rows_database):
    SystemSetting.objects.update_or_create(
        key="alerts.anomaly_drop_percent", defaults={"value": 90}
    )
    _back_up(pg_job, 3)
    pg_exec("DELETE FROM items WHERE id % 10 < 7; ANALYZE items;", rows_database)  # 70 % fewer

    run_backup(pg_job)

    assert _anomalies() == []


# --- the comparison, without a database ------------------------------------------------------


def test_the_drop_is_measured_against_the_median_of_the_earlier_figures():
    assert compare_with_median(40, [100, 90, 1000], 50) == Comparison(40, 100.0, 60.0, True)


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two():
    comparison = compare_with_median(50, [80, 100, 120, 5000], 50)

    assert comparison == Comparison(50, 110.0, 54.5, True)


def test_a_drop_of_exactly_the_threshold_is_not_an_anomaly():
    comparison = compare_with_median(50, [100, 100, 100], 50)

    assert comparison is not None
    assert comparison.drop_percent == 50.0
    assert not comparison.anomalous


def test_a_figure_above_the_median_is_a_negative_drop():
    assert compare_with_median(150, [100, 100, 100], 50) == Comparison(150, 100.0, -50.0, False)


def test_fewer_than_three_earlier_figures_compare_nothing():
    assert compare_with_median(0, [100, 100], 50) is None


def test_earlier_backups_that_did_not_record_the_figure_are_left_out():
    assert compare_with_median(0, [100, None, 100, None], 50) is None
    assert compare_with_median(0, [100, None, 100, 100], 50) == Comparison(0, 100.0, 100.0, True)


def test_a_backup_without_the_figure_compares_nothing():
    assert compare_with_median(None, [100, 100, 100], 50) is None


def test_a_median_of_zero_compares_nothing():
    assert compare_with_median(0, [0, 0, 0], 50) is None


# --- the setting ------------------------------------------------------------------------------


def test_the_drop_threshold_defaults_to_50_percent():
    assert system_settings.SPECS["alerts.anomaly_drop_percent"].default() == 50


@pytest.mark.parametrize("value", [1, 99])
def test_the_drop_threshold_accepts_1_to_99_percent(value):
    assert system_settings.SPECS["alerts.anomaly_drop_percent"].validate(value) == value


@pytest.mark.parametrize("value", [0, 100, "half"])
def test_the_drop_threshold_refuses_values_outside_1_to_99(value):
    with pytest.raises(serializers.ValidationError):
        system_settings.SPECS["alerts.anomaly_drop_percent"].validate(value)
