"""What a run's log lines say they are about, and the run's own log tail, stored with it.

Every line logged inside ``about(execution)`` carries ``execution=``, ``job=`` and
``datasource=``. Inside ``recording(execution)`` the lines at INFO and above are also kept in
a bounded tail (``core.logging.collect_tail``), written to ``BackupExecution.log_tail`` with
the run's progress and heartbeat while it runs and once more when it ends, however it ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from core.logging import LogTail, collect_tail, log_context
from executions.models import BackupExecution
from executions.secrets import secrets_of

logger = logging.getLogger(__name__)


def about(execution: BackupExecution) -> AbstractContextManager[None]:
    """Log lines inside the block name the execution, its job and its datasource."""
    return log_context(
        execution=execution.pk,
        job=execution.job.name or execution.job_id,
        datasource=execution.datasource.name or execution.datasource_id,
    )


def collecting(execution: BackupExecution, seed: str = "") -> AbstractContextManager[LogTail]:
    """The lines logged about ``execution`` while the block runs, its secrets masked."""
    return collect_tail(execution.pk, seed=seed, secrets=secrets_of(execution))


@contextmanager
def recording(execution: BackupExecution) -> Iterator[LogTail]:
    """``about`` the execution, its lines kept and stored in ``log_tail`` when the block ends
    (a retry's lines follow those of the attempts before it)."""
    with about(execution), collecting(execution, seed=execution.log_tail) as tail:
        try:
            yield tail
        finally:
            text = tail.text()
            try:
                BackupExecution.objects.filter(pk=execution.pk).update(log_tail=text)
            except Exception:  # the run's own outcome matters more; it is already recorded
                logger.warning("Could not store the log tail of %s", execution.pk, exc_info=True)
            else:
                execution.log_tail = text
