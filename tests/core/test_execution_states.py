"""An execution moves only along its legal transitions, each claimed by exactly one process."""

from __future__ import annotations

import pytest

from executions.models import BackupExecution, IllegalTransition
from tests.factories import BackupExecutionFactory

pytestmark = pytest.mark.django_db
Status = BackupExecution.Status


def test_a_queued_execution_is_claimed_once_and_records_the_start():
    execution = BackupExecutionFactory.create()
    execution.claim(worker="w1")
    stored = BackupExecution.objects.get(pk=execution.pk)
    assert stored.status == Status.RUNNING
    assert stored.started_at is not None
    assert stored.heartbeat_at is not None
    assert (stored.worker, stored.attempt) == ("w1", 1)


def test_a_second_worker_cannot_claim_an_execution_already_claimed():
    execution = BackupExecutionFactory.create()
    stale_copy = BackupExecution.objects.get(pk=execution.pk)
    execution.claim(worker="w1")
    with pytest.raises(IllegalTransition, match="no longer queued"):
        stale_copy.claim(worker="w2")
    assert BackupExecution.objects.get(pk=execution.pk).worker == "w1"


def test_completion_records_finish_time_duration_and_results():
    execution = BackupExecutionFactory.create()
    execution.claim()
    execution.complete(size_bytes=10, compressed_size_bytes=4)
    stored = BackupExecution.objects.get(pk=execution.pk)
    assert stored.status == Status.COMPLETED
    assert stored.finished_at is not None
    assert stored.duration_seconds is not None
    assert (stored.size_bytes, stored.compressed_size_bytes) == (10, 4)


def test_failure_keeps_a_readable_message():
    execution = BackupExecutionFactory.create()
    execution.claim()
    execution.fail("pg_dump exited with status 1", stack="Traceback ...")
    stored = BackupExecution.objects.get(pk=execution.pk)
    assert stored.status == Status.FAILED
    assert stored.error_message == "pg_dump exited with status 1"


@pytest.mark.parametrize("final", ["complete", "cancel"])
def test_a_finished_execution_never_moves_again(final):
    execution = BackupExecutionFactory.create()
    execution.claim()
    getattr(execution, final)()
    for move in (execution.claim, execution.cancel, execution.requeue, execution.complete):
        with pytest.raises(IllegalTransition):
            move()


def test_a_queued_execution_cannot_complete_without_running():
    execution = BackupExecutionFactory.create()
    with pytest.raises(IllegalTransition, match="from queued to completed"):
        execution.complete()
    assert BackupExecution.objects.get(pk=execution.pk).status == Status.QUEUED


def test_a_retry_puts_a_running_execution_back_in_the_queue_and_counts_attempts():
    execution = BackupExecutionFactory.create()
    execution.claim()
    execution.requeue()
    execution.claim()
    assert BackupExecution.objects.get(pk=execution.pk).attempt == 2
