"""The verification options of ``BackupJob.backup_options``."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import ValidationError

from jobs.schemas import BackupOptionsSchema


def test_verification_is_off_unless_the_job_asks_for_it():
    options = BackupOptionsSchema.validate_data({})
    assert options["verify_after_backup"] is False
    assert options["verification_assertions"] == []


def test_a_job_takes_twenty_verification_assertions():
    options = BackupOptionsSchema.validate_data({"verification_assertions": ["SELECT true"] * 20})
    assert len(options["verification_assertions"]) == 20


def test_a_job_refuses_a_twenty_first_verification_assertion():
    with pytest.raises(ValidationError):
        BackupOptionsSchema.validate_data({"verification_assertions": ["SELECT true"] * 21})
