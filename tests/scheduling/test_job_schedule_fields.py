"""A job's next_execution_at follows its schedule, and bad schedules are refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from jobs.schedule import next_run
from tests.factories import BackupJobFactory

pytestmark = pytest.mark.django_db


def test_a_new_enabled_job_gets_its_next_slot_after_now():
    before = timezone.now()
    job = BackupJobFactory.create(schedule_cron="0 3 * * *", schedule_timezone="America/Sao_Paulo")
    assert job.next_execution_at == next_run("0 3 * * *", "America/Sao_Paulo", before)


def test_a_new_disabled_job_has_no_next_slot():
    assert BackupJobFactory.create(enabled=False).next_execution_at is None


def test_disabling_a_job_clears_its_next_slot():
    job = BackupJobFactory.create()
    job.enabled = False
    job.save()
    job.refresh_from_db()
    assert job.next_execution_at is None


def test_enabling_a_job_computes_its_next_slot_from_now():
    job = BackupJobFactory.create(enabled=False, schedule_cron="*/5 * * * *")
    job.enabled = True
    job.save(update_fields=["enabled"])
    job.refresh_from_db()
    assert job.next_execution_at is not None
    assert job.next_execution_at > timezone.now()


def test_changing_the_time_zone_moves_the_next_slot():
    job = BackupJobFactory.create(schedule_cron="0 3 * * *", schedule_timezone="UTC")
    job.schedule_timezone = "Asia/Tokyo"
    job.save()
    job.refresh_from_db()
    assert job.next_execution_at is not None
    assert job.next_execution_at.hour == 18  # 03:00 JST


def test_saving_a_job_with_an_unchanged_schedule_keeps_its_next_slot():
    job = BackupJobFactory.create(schedule_cron="0 3 * * *")
    slot = job.next_execution_at
    job.name = "renamed"
    job.save()
    job.refresh_from_db()
    assert job.next_execution_at == slot


def test_an_invalid_cron_expression_is_a_validation_error_on_the_field():
    job = BackupJobFactory.build(schedule_cron="61 * * * *")
    with pytest.raises(ValidationError) as info:
        job.full_clean(exclude=["datasource", "storage_location"])
    assert "schedule_cron" in info.value.message_dict


def test_an_unknown_time_zone_is_a_validation_error_on_the_field():
    job = BackupJobFactory.build(schedule_timezone="Mars/Olympus")
    with pytest.raises(ValidationError) as info:
        job.full_clean(exclude=["datasource", "storage_location"])
    assert "schedule_timezone" in info.value.message_dict


def test_a_cron_expression_that_never_matches_is_a_validation_error():
    job = BackupJobFactory.build(schedule_cron="0 0 30 2 *")
    with pytest.raises(ValidationError) as info:
        job.full_clean(exclude=["datasource", "storage_location"])
    assert "never matches" in str(info.value.message_dict["schedule_cron"])
