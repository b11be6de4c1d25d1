"""The job page's retention preview: ``executions.cleanup.retention_preview`` for the policy
shown (the stored one, or the one being typed), rendered by ``jobs.admin_retention``."""

from __future__ import annotations

import copy
from dataclasses import asdict

from django.utils import timezone
from django.utils.safestring import SafeString

from executions.cleanup import retention_preview
from jobs.admin_retention import PreviewRow, render_preview
from jobs.models import BackupJob
from jobs.retention import RetentionPolicy


class RetentionPreviewMixin:
    """Gives ``BackupJobAdmin.preview_retention`` the job's real backups."""

    def preview_retention(self, job: BackupJob, policy: RetentionPolicy) -> SafeString:
        now = timezone.now()
        # A copy carries the typed policy: the preview never saves it.
        candidate = copy.copy(job)
        candidate.retention_policy = asdict(policy)
        preview = retention_preview(candidate, now=now)
        rows = [
            PreviewRow(
                k.execution.finished_at or k.execution.created_at, _size(k.execution), k.reasons
            )
            for k in preview.keep
        ] + [PreviewRow(e.finished_at or e.created_at, _size(e)) for e in preview.delete]
        rows.sort(key=lambda row: row.finished_at, reverse=True)
        return render_preview(rows, policy, job.schedule_timezone, now)


def _size(execution: object) -> int | None:
    size = getattr(execution, "compressed_size_bytes", None)
    return int(size) if size is not None else None
